package configs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// LockFileName is the lock file in the plan directory. It pins every git
// module source to a commit and is meant to be committed with the plan.
const LockFileName = ".mailplan.lock.hcl"

// ModuleLock is the lock file: the commit each git source (repository and
// ref, see GitSource.LockKey) was installed from.
type ModuleLock struct {
	Sources map[string]*LockedSource
}

// LockedSource is one `module "git::…" {}` block of the lock file.
type LockedSource struct {
	Key    string
	Ref    string // "" for the default branch
	Commit string // 40 hexadecimal digits
	// DeclRange is where the block is, for diagnostics; empty for a
	// source not read from a file.
	DeclRange hcl.Range
}

var commitPattern = regexp.MustCompile(`^[0-9a-f]{40}$`)

// IsCommit reports whether s is a full commit hash, as the lock file holds.
func IsCommit(s string) bool { return commitPattern.MatchString(s) }

var lockSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "module", LabelNames: []string{"source"}}},
}

var lockedSourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "ref"}, {Name: "commit", Required: true}},
}

// ReadModuleLock reads the lock file of the plan directory dir. A missing
// file is an empty lock, not an error.
func (l *Loader) ReadModuleLock(dir string) (*ModuleLock, hcl.Diagnostics) {
	lock := &ModuleLock{Sources: map[string]*LockedSource{}}
	name := filepath.Join(dir, LockFileName)
	src, err := ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return lock, nil
	}
	if err != nil {
		return lock, hcl.Diagnostics{ReadFileDiagnostic(name, "lock file", err)}
	}
	f, diags := l.parseSource(name, src)
	if f == nil || f.Body == nil {
		return lock, diags
	}
	content, d := f.Body.Content(lockSchema)
	diags = append(diags, d...)
	for _, b := range content.Blocks {
		c, d := b.Body.Content(lockedSourceSchema)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		ls := &LockedSource{Key: b.Labels[0], DeclRange: b.DefRange}
		if a, ok := c.Attributes["ref"]; ok {
			diags = append(diags, gohcl.DecodeExpression(a.Expr, nil, &ls.Ref)...)
		}
		a := c.Attributes["commit"]
		d = gohcl.DecodeExpression(a.Expr, nil, &ls.Commit)
		diags = append(diags, d...)
		if !d.HasErrors() && !IsCommit(ls.Commit) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid lock file",
				Detail:   fmt.Sprintf("The commit of %s must be 40 lower-case hexadecimal digits. Run \"mailplan init -upgrade\" to write the lock file again.", ls.Key),
				Subject:  a.Expr.Range().Ptr(),
			})
			continue
		}
		if prev, dup := lock.Sources[ls.Key]; dup {
			diags = append(diags, duplicate("locked source", ls.Key, prev.DeclRange, ls.DeclRange))
			continue
		}
		lock.Sources[ls.Key] = ls
	}
	return lock, diags
}

// Bytes is the lock file's content, sources in order of their keys, so
// that an unchanged lock is written byte for byte the same.
func (lock *ModuleLock) Bytes() []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{{
		Type: hclsyntax.TokenComment,
		Bytes: []byte("# This file is maintained by \"mailplan init\". Commit it with the plan:\n" +
			"# it pins every git module source to the commit it was installed from.\n" +
			"# \"mailplan init -upgrade\" resolves the refs again and rewrites it.\n"),
	}})
	keys := make([]string, 0, len(lock.Sources))
	for k := range lock.Sources {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ls := lock.Sources[k]
		body.AppendNewline()
		b := body.AppendNewBlock("module", []string{k}).Body()
		if ls.Ref != "" {
			b.SetAttributeValue("ref", cty.StringVal(ls.Ref))
		}
		b.SetAttributeValue("commit", cty.StringVal(ls.Commit))
	}
	return hclwrite.Format(f.Bytes())
}
