// Package modsrc installs the modules a configuration calls from git
// repositories: what `mailplan init` does. Install walks the configuration
// with a configs.Loader whose resolver fetches each git source (only the
// ref asked for, one commit deep, with the git binary in a clean
// environment), checks the commit against the lock file, and puts the
// checkouts under .mailplan/modules of the plan directory with a manifest,
// then writes the lock file .mailplan.lock.hcl.
//
// It owns fetching and installing. It does not own the source syntax, the
// manifest or the lock file format, nor loading an installed module: those
// are engine/configs', whose Loader finds installed modules by itself, so
// that validate, plan and apply never touch the network.
//
// Credentials in a repository URL (https://user:token@host/...) are given
// to git and to nothing else: messages, logs, the manifest and the lock
// file hold the URL without them.
package modsrc
