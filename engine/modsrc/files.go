package modsrc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mailplan/mailplan/engine/configs"
)

// commit puts the staged modules in place of the old ones, then writes the
// manifest and the lock file. The modules go first: a manifest never
// names a directory that is not there yet, and until the lock file is
// written the loader sees the manifest disagree with it and asks for
// `mailplan init` again.
func (in *installer) commit(dir string, old *configs.ModuleManifest) error {
	modules := filepath.Join(dir, filepath.FromSlash(configs.ModulesDir))
	var remove []string
	if old != nil {
		for _, e := range old.Modules {
			remove = append(remove, e.Key)
		}
	}
	for _, e := range in.manifest.Modules {
		remove = append(remove, e.Key)
	}
	for _, key := range remove {
		if !validKey(key) {
			continue // a hand-edited manifest: not a directory of ours
		}
		if err := os.RemoveAll(filepath.Join(modules, key)); err != nil {
			return fmt.Errorf("remove old module %s: %w", key, err)
		}
	}
	if len(in.manifest.Modules) > 0 {
		if err := os.MkdirAll(modules, 0o755); err != nil {
			return err
		}
	}
	for _, e := range in.manifest.Modules {
		from, to := filepath.Join(in.staging, e.Key), filepath.Join(modules, e.Key)
		if err := os.Rename(from, to); err != nil {
			return fmt.Errorf("install module %s: %w", e.Key, err)
		}
	}
	manifest := filepath.Join(modules, configs.ManifestName)
	if len(in.manifest.Modules) > 0 {
		if err := writeFileAtomic(manifest, in.manifest.Bytes(), 0o644); err != nil {
			return err
		}
	} else if err := os.Remove(manifest); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	lockFile := filepath.Join(dir, configs.LockFileName)
	if len(in.newLock.Sources) == 0 {
		// No git source is left: neither is the lock file.
		if err := os.Remove(lockFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	data := in.newLock.Bytes()
	if cur, err := os.ReadFile(lockFile); err == nil && bytes.Equal(cur, data) {
		return nil // unchanged: leave the committed file alone
	}
	return writeFileAtomic(lockFile, data, 0o644)
}

// validKey reports whether key is a module key (call names and dots) that
// names a directory inside ModulesDir.
func validKey(key string) bool {
	if key == "" || key[0] == '.' {
		return false
	}
	for _, r := range key {
		switch {
		case r == '.' || r == '_' || r == '-':
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

// copyTree copies the checkout from to the new directory to: directories,
// regular files with their permissions, and symbolic links as links (as
// git checks them out).
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(p, dst, info.Mode().Perm())
		}
		return nil // git checks out nothing else
	})
}

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return out.Close()
}

// writeFileAtomic replaces path with data: a temporary file beside it,
// synced, renamed over it, and the directory synced, so that a crash
// leaves the old file or the new one, never a mix.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp.Name(), err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
