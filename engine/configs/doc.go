// Package configs turns the *.mp.hcl files of a plan directory, and of the
// modules it calls, into a static model: a Module with its variables,
// locals, outputs, hosts, DNS servers, resources, module calls, moved and
// removed blocks, each with its name, meta-arguments (count, for_each,
// depends_on, lifecycle, hooks) and unevaluated expressions. A Loader
// reads them, collects every problem as an hcl.Diagnostic and returns a
// best-effort Module alongside; it keeps the parsed files for printing
// diagnostics with their source lines.
//
// It checks structure only: block and argument names, duplicates, static
// addresses in moved and removed blocks (and moves that contradict each
// other), and variable defaults against their type constraints. Only
// constant arguments such as those defaults are read here; an expression
// that may refer to anything is left for engine/lang to evaluate. It knows
// no resource type.
//
// Module sources are local directories (./x, ../x) or git repositories
// (git::URL//SUBDIR?ref=REF, ParseGitSource). The loader never fetches: it
// loads a git module from where `mailplan init` (engine/modsrc) installed
// it, under the plan directory's .mailplan/modules, as the manifest there
// says and the lock file .mailplan.lock.hcl confirms, and otherwise asks,
// at the source argument, for `mailplan init`. This package owns those
// formats: the source syntax and its redaction of credentials, the
// manifest and the lock file; engine/modsrc owns fetching and writing them.
//
// It also owns what every reader of configuration shares: ReadFile, which
// reads only regular files up to MaxFileSize; CheckNesting, which refuses
// input nested too deeply or with too many tokens before HCL's parser sees
// it; Convert, type conversion without cty's quadratic cost on large
// collections; and Format, the canonical form `mailplan fmt` writes.
package configs
