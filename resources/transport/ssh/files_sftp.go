package ssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"github.com/mailplan/mailplan/resources/transport"
)

// This file holds the file operations done over SFTP, as the login user.
// files_sudo.go holds the same operations done with commands under sudo.

func tempName(p string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return path.Join(path.Dir(p), "."+path.Base(p)+transport.TempMarker+hex.EncodeToString(b[:]))
}

func sftpInfo(fi os.FileInfo) transport.FileInfo {
	out := transport.FileInfo{Name: fi.Name(), Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime(), UID: -1, GID: -1}
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		out.UID = int(st.UID)
		out.GID = int(st.GID)
	}
	return out
}

// Stat implements transport.Host.
func (h *Host) Stat(ctx context.Context, p string) (transport.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return transport.FileInfo{}, err
	}
	if h.sftp == nil {
		return h.sudoStat(ctx, p)
	}
	fi, err := h.sftp.Lstat(p)
	if err != nil {
		return transport.FileInfo{}, h.fileErr("stat", p, err)
	}
	return sftpInfo(fi), nil
}

// fileErr wraps an SFTP error with the operation, the path and the host.
func (h *Host) fileErr(op, p string, err error) error {
	return fmt.Errorf("%s %s on %s: %w", op, p, h.Name(), err)
}

// ReadFile implements transport.Host.
func (h *Host) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h.sftp == nil {
		return h.sudoReadFile(ctx, p)
	}
	f, err := h.sftp.Open(p)
	if err != nil {
		return nil, h.fileErr("read", p, err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		return nil, h.fileErr("read", p, err)
	}
	return buf.Bytes(), nil
}

// Open implements transport.Host.
func (h *Host) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h.sftp == nil {
		return h.sudoOpen(ctx, p)
	}
	f, err := h.reader().Open(p)
	if err != nil {
		return nil, h.fileErr("open", p, err)
	}
	return f, nil
}

// ReadDir implements transport.Host.
func (h *Host) ReadDir(ctx context.Context, p string) ([]transport.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h.sftp == nil {
		return h.sudoReadDir(ctx, p)
	}
	fis, err := h.reader().ReadDirContext(ctx, p)
	if err != nil {
		return nil, h.fileErr("read directory", p, err)
	}
	out := make([]transport.FileInfo, 0, len(fis))
	for _, fi := range fis {
		out = append(out, sftpInfo(fi))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// WriteFile implements transport.Host.
func (h *Host) WriteFile(ctx context.Context, p string, data []byte, opts transport.WriteOptions) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.sftp == nil {
		return h.sudoWriteFile(ctx, p, data, opts)
	}
	var f *sftp.File
	var tmp string
	for range 10 {
		tmp = tempName(p)
		f, err = h.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return h.full(ctx, "write", p, 0, true, h.fileErr("write", p, fmt.Errorf("create temporary file: %w", err)))
	}
	defer func() {
		if err != nil {
			f.Close()
			if rerr := h.sftp.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				h.log.Warn("cannot remove temporary file", "host", h.cfg.Name, "path", tmp, "error", rerr)
			}
		}
	}()
	// Private until complete: the server created it with its umask.
	if err = f.Chmod(0o600); err != nil {
		return h.fileErr("chmod", tmp, err)
	}
	if _, err = f.Write(data); err != nil {
		return h.full(ctx, "write", p, int64(len(data)), false, h.fileErr("write", tmp, err))
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	uid, gid := opts.UID, opts.GID
	if uid >= 0 || gid >= 0 {
		if uid, gid, err = keepIDs(uid, gid, f.Stat); err != nil {
			return h.fileErr("stat", tmp, err)
		}
	}
	mode := opts.Mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	// The sync, the owner and the mode are asked for together: one round
	// trip, not three. chown clears the set-id bits, so a mode with them
	// is set after it.
	var syncErr, chownErr, chmodErr error
	var wg sync.WaitGroup
	run := func(fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn()
		}()
	}
	if h.fsync {
		run(func() { syncErr = f.Sync() })
	}
	setID := mode&(fs.ModeSetuid|fs.ModeSetgid) != 0
	if uid >= 0 {
		run(func() {
			if chownErr = f.Chown(uid, gid); chownErr == nil && setID {
				chmodErr = f.Chmod(mode)
			}
		})
	}
	if uid < 0 || !setID {
		run(func() { chmodErr = f.Chmod(mode) })
	}
	wg.Wait()
	switch {
	case syncErr != nil:
		return h.fileErr("fsync", tmp, syncErr)
	case chownErr != nil:
		return h.fileErr("chown", tmp, chownErr)
	case chmodErr != nil:
		return h.fileErr("chmod", tmp, chmodErr)
	}
	if err = f.Close(); err != nil {
		return h.full(ctx, "write", p, int64(len(data)), false, h.fileErr("close", tmp, err))
	}
	if err = h.sftp.PosixRename(tmp, p); err != nil {
		return h.full(ctx, "rename", p, 0, false, h.fileErr("rename", tmp, err))
	}
	if h.fsync {
		h.syncDir(path.Dir(p))
	}
	return nil
}

// syncDir fsyncs a directory through a handle opened on it, which OpenSSH's
// sftp-server allows. It is best effort: the rename is done either way.
func (h *Host) syncDir(dir string) {
	d, err := h.sftp.Open(dir)
	if err == nil {
		err = d.Sync()
		d.Close()
	}
	if err != nil {
		h.log.Debug("cannot fsync directory", "host", h.cfg.Name, "path", dir, "error", err)
	}
}

// Create implements transport.Host.
func (h *Host) Create(ctx context.Context, p string, mode fs.FileMode) (io.WriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if h.sftp == nil {
		return h.sudoCreate(ctx, p, mode)
	}
	f, err := h.sftp.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return nil, h.full(ctx, "create", p, 0, true, h.fileErr("create", p, err))
	}
	if err := f.Chmod(mode.Perm()); err != nil {
		f.Close()
		return nil, h.fileErr("chmod", p, err)
	}
	return &fullWriter{File: f, ctx: ctx, h: h, p: p}, nil
}

// Rename implements transport.Host.
func (h *Host) Rename(ctx context.Context, oldpath, newpath string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.sftp == nil {
		return h.sudoRename(ctx, oldpath, newpath)
	}
	if err := h.sftp.PosixRename(oldpath, newpath); err != nil {
		return h.full(ctx, "rename", newpath, 0, false, fmt.Errorf("rename %s to %s on %s: %w", oldpath, newpath, h.Name(), err))
	}
	return nil
}

// Remove implements transport.Host.
func (h *Host) Remove(ctx context.Context, p string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.sftp == nil {
		return h.sudoRemove(ctx, p)
	}
	if err := h.sftp.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return h.fileErr("remove", p, err)
	}
	return nil
}

// MkdirAll implements transport.Host.
func (h *Host) MkdirAll(ctx context.Context, p string, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.sftp == nil {
		return h.sudoMkdirAll(ctx, p, mode)
	}
	fi, err := h.sftp.Stat(p)
	if err == nil && fi.IsDir() {
		return nil
	}
	if err := h.sftp.MkdirAll(p); err != nil {
		return h.full(ctx, "mkdir", p, 0, true, h.fileErr("mkdir", p, err))
	}
	if err := h.sftp.Chmod(p, mode.Perm()); err != nil {
		return h.fileErr("chmod", p, err)
	}
	return nil
}

// Chown implements transport.Host.
func (h *Host) Chown(ctx context.Context, p string, uid, gid int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if uid < 0 && gid < 0 {
		return nil
	}
	if h.sftp == nil {
		return h.sudoChown(ctx, p, uid, gid)
	}
	uid, gid, err := keepIDs(uid, gid, func() (os.FileInfo, error) { return h.sftp.Stat(p) })
	if err != nil {
		return h.fileErr("stat", p, err)
	}
	if err := h.sftp.Chown(p, uid, gid); err != nil {
		return h.fileErr("chown", p, err)
	}
	return nil
}

// Chmod implements transport.Host.
func (h *Host) Chmod(ctx context.Context, p string, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.sftp == nil {
		return h.sudoChmod(ctx, p, mode)
	}
	if err := h.sftp.Chmod(p, mode&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return h.fileErr("chmod", p, err)
	}
	return nil
}

// Chtimes implements transport.Host. SFTP carries whole seconds.
func (h *Host) Chtimes(ctx context.Context, p string, mtime time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h.sftp == nil {
		return h.sudoChtimes(ctx, p, mtime)
	}
	if err := h.sftp.Chtimes(p, mtime, mtime); err != nil {
		return h.fileErr("chtimes", p, err)
	}
	return nil
}

// keepIDs fills in an owner or group given as -1 (keep) from stat; it
// stats only when one is -1.
func keepIDs(uid, gid int, stat func() (os.FileInfo, error)) (int, int, error) {
	if uid >= 0 && gid >= 0 {
		return uid, gid, nil
	}
	fi, err := stat()
	if err != nil {
		return uid, gid, err
	}
	st := sftpInfo(fi)
	if uid < 0 {
		uid = st.UID
	}
	if gid < 0 {
		gid = st.GID
	}
	return uid, gid, nil
}
