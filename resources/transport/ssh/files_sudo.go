package ssh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/mailplan/mailplan/resources/transport"
)

// With sudo, SFTP would act as the login user, so file operations are
// commands run under `sudo -n`: GNU find for metadata, cat to read, mktemp,
// dd, chown, chmod, mv and sync to write. Paths must be absolute, so that no
// path can be read as an option or a find expression.

// findFormat prints one record per file: type, octal permission bits
// (with set-id and sticky bits), size, mtime, uid, gid, depth, name, NUL.
const findFormat = `%y %m %s %T@ %U %G %d %f\0`

// cmd runs argv (under sudo when configured) in the C locale, so that
// error messages can be classified.
func (h *Host) cmd(ctx context.Context, stdin io.Reader, argv ...string) (transport.Result, error) {
	return h.Run(ctx, argv, transport.RunOptions{Stdin: stdin, Env: []string{"LC_ALL=C"}})
}

// cmdErr is the error of a file command that exited non-zero, wrapping
// fs.ErrNotExist, fs.ErrExist or fs.ErrPermission when its message says so.
func (h *Host) cmdErr(op, p string, argv []string, res transport.Result) error {
	msg := strings.TrimSpace(string(res.Stderr))
	for _, c := range []struct {
		text string
		err  error
	}{
		{"No such file or directory", fs.ErrNotExist},
		{"File exists", fs.ErrExist},
		{"Permission denied", fs.ErrPermission},
		{"Operation not permitted", fs.ErrPermission},
	} {
		if strings.Contains(msg, c.text) {
			return fmt.Errorf("%s %s on %s: %w: %s", op, p, h.Name(), c.err, msg)
		}
	}
	return fmt.Errorf("%s %s on %s: %w", op, p, h.Name(), res.Err(argv))
}

// run runs a file command and turns a non-zero exit into cmdErr.
func (h *Host) run(ctx context.Context, op, p string, stdin io.Reader, argv ...string) (transport.Result, error) {
	if !path.IsAbs(p) {
		return transport.Result{}, fmt.Errorf("%s %s on %s: the path must be absolute", op, p, h.Name())
	}
	res, err := h.cmd(ctx, stdin, argv...)
	if err != nil {
		return res, err
	}
	if res.ExitCode != 0 {
		return res, h.cmdErr(op, p, argv, res)
	}
	return res, nil
}

func parseFind(out []byte) ([]transport.FileInfo, []int, error) {
	var infos []transport.FileInfo
	var depths []int
	for _, rec := range bytes.Split(out, []byte{0}) {
		if len(rec) == 0 {
			continue
		}
		f := strings.SplitN(string(rec), " ", 8)
		if len(f) != 8 {
			return nil, nil, fmt.Errorf("unexpected find output %q", rec)
		}
		perm, err1 := strconv.ParseUint(f[1], 8, 32)
		size, err2 := strconv.ParseInt(f[2], 10, 64)
		mtime, err3 := parseEpoch(f[3])
		uid, err4 := strconv.Atoi(f[4])
		gid, err5 := strconv.Atoi(f[5])
		depth, err6 := strconv.Atoi(f[6])
		if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
			return nil, nil, fmt.Errorf("unexpected find output %q: %w", rec, err)
		}
		mode := transport.FileModeOf(uint32(perm))
		switch f[0] {
		case "f":
		case "d":
			mode |= fs.ModeDir
		case "l":
			mode |= fs.ModeSymlink
		case "p":
			mode |= fs.ModeNamedPipe
		case "s":
			mode |= fs.ModeSocket
		case "c":
			mode |= fs.ModeDevice | fs.ModeCharDevice
		case "b":
			mode |= fs.ModeDevice
		default:
			mode |= fs.ModeIrregular
		}
		infos = append(infos, transport.FileInfo{Name: f[7], Size: size, Mode: mode, ModTime: mtime, UID: uid, GID: gid})
		depths = append(depths, depth)
	}
	return infos, depths, nil
}

// parseEpoch parses find's %T@, seconds with a fraction.
func parseEpoch(s string) (time.Time, error) {
	secs, frac, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var nsec int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if nsec, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, err
		}
	}
	return time.Unix(sec, nsec), nil
}

func (h *Host) sudoStat(ctx context.Context, p string) (transport.FileInfo, error) {
	res, err := h.run(ctx, "stat", p, nil, "find", p, "-maxdepth", "0", "-printf", findFormat)
	if err != nil {
		return transport.FileInfo{}, err
	}
	infos, _, err := parseFind(res.Stdout)
	if err == nil && len(infos) != 1 {
		err = fmt.Errorf("find printed %d records", len(infos))
	}
	if err != nil {
		return transport.FileInfo{}, fmt.Errorf("stat %s on %s: %w", p, h.Name(), err)
	}
	return infos[0], nil
}

func (h *Host) sudoReadDir(ctx context.Context, p string) ([]transport.FileInfo, error) {
	// -H: follow p itself when it is a symlink, as opening it would.
	res, err := h.run(ctx, "read directory", p, nil, "find", "-H", p, "-maxdepth", "1", "-printf", findFormat)
	if err != nil {
		return nil, err
	}
	infos, depths, err := parseFind(res.Stdout)
	if err != nil {
		return nil, fmt.Errorf("read directory %s on %s: %w", p, h.Name(), err)
	}
	var out []transport.FileInfo
	for i, fi := range infos {
		if depths[i] == 0 {
			if !fi.IsDir() {
				return nil, fmt.Errorf("read directory %s on %s: not a directory", p, h.Name())
			}
			continue
		}
		out = append(out, fi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (h *Host) sudoReadFile(ctx context.Context, p string) ([]byte, error) {
	res, err := h.run(ctx, "read", p, nil, "cat", "--", p)
	if err != nil {
		return nil, err
	}
	return res.Stdout, nil
}

// sudoOpen streams `cat` of the file. A failure of cat shows as an error
// from Read instead of io.EOF.
func (h *Host) sudoOpen(ctx context.Context, p string) (io.ReadCloser, error) {
	fi, err := h.sudoStat(ctx, p)
	if err != nil {
		return nil, err
	}
	if !fi.IsRegular() {
		return nil, fmt.Errorf("open %s on %s: not a regular file", p, h.Name())
	}
	argv := []string{"cat", "--", p}
	cmd, err := h.commandLine(argv, []string{"LC_ALL=C"})
	if err != nil {
		return nil, err
	}
	s, release, err := h.newSession(ctx)
	if err != nil {
		return nil, fmt.Errorf("open %s on %s: %w", p, h.Name(), err)
	}
	r, err := s.StdoutPipe()
	if err == nil {
		err = s.Start(cmd)
	}
	if err != nil {
		s.Close()
		release()
		return nil, fmt.Errorf("open %s on %s: %w", p, h.Name(), err)
	}
	return &cmdReader{h: h, p: p, argv: argv, s: s, r: r, release: release}, nil
}

type cmdReader struct {
	h       *Host
	p       string
	argv    []string
	s       *ssh.Session
	r       io.Reader
	release func()
	err     error // of the finished command
	done    bool
}

func (c *cmdReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if err == io.EOF {
		if werr := c.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (c *cmdReader) wait() error {
	if !c.done {
		c.done = true
		code, err := exitCode(c.s.Wait())
		c.s.Close()
		c.release()
		switch {
		case err != nil:
			c.err = fmt.Errorf("read %s on %s: %w", c.p, c.h.Name(), err)
		case code != 0:
			c.err = fmt.Errorf("read %s on %s: %w", c.p, c.h.Name(), transport.Result{ExitCode: code}.Err(c.argv))
		}
	}
	return c.err
}

func (c *cmdReader) Close() error {
	if !c.done {
		// Stop the transfer of the rest.
		c.done = true
		c.s.Close()
		c.release()
	}
	return nil
}

func octal(mode fs.FileMode) string {
	return fmt.Sprintf("%04o", transport.OctalMode(mode))
}

func (h *Host) sudoWriteFile(ctx context.Context, p string, data []byte, opts transport.WriteOptions) (err error) {
	dir, base := path.Split(p)
	// mktemp creates the file with O_EXCL and mode 0600.
	res, err := h.run(ctx, "write", p, nil, "mktemp", "--", dir+"."+base+transport.TempMarker+"XXXXXXXX")
	if err != nil {
		return err
	}
	tmp := strings.TrimSuffix(string(res.Stdout), "\n")
	if path.Dir(tmp) != path.Clean(dir) {
		return fmt.Errorf("write %s on %s: mktemp made %q", p, h.Name(), tmp)
	}
	defer func() {
		if err != nil {
			if _, rerr := h.run(context.WithoutCancel(ctx), "remove", tmp, nil, "rm", "-f", "--", tmp); rerr != nil {
				h.log.Warn("cannot remove temporary file", "host", h.cfg.Name, "path", tmp, "error", rerr)
			}
		}
	}()
	if _, err = h.run(ctx, "write", tmp, bytes.NewReader(data), "dd", "of="+tmp, "bs=65536", "conv=fsync", "status=none"); err != nil {
		return err
	}
	// chown before chmod: chown clears the set-id bits.
	if err = h.sudoChown(ctx, tmp, opts.UID, opts.GID); err != nil {
		return err
	}
	if err = h.sudoChmod(ctx, tmp, opts.Mode); err != nil {
		return err
	}
	if err = h.sudoRename(ctx, tmp, p); err != nil {
		return err
	}
	if _, serr := h.run(ctx, "fsync", dir, nil, "sync", "--", path.Clean(dir)); serr != nil {
		h.log.Debug("cannot fsync directory", "host", h.cfg.Name, "path", dir, "error", serr)
	}
	return nil
}

func (h *Host) sudoCreate(ctx context.Context, p string, mode fs.FileMode) (io.WriteCloser, error) {
	// The script is constant; the path is its argument $1. With noclobber
	// (set -C) the shell creates the file with O_EXCL.
	if _, err := h.run(ctx, "create", p, nil, "sh", "-c", `set -C && umask 077 && : > "$1"`, "sh", p); err != nil {
		return nil, err
	}
	if err := h.sudoChmod(ctx, p, mode.Perm()); err != nil {
		return nil, err
	}
	argv := []string{"dd", "of=" + p, "bs=65536", "conv=notrunc,fsync", "status=none"}
	cmd, err := h.commandLine(argv, []string{"LC_ALL=C"})
	if err != nil {
		return nil, err
	}
	s, release, err := h.newSession(ctx)
	if err != nil {
		return nil, fmt.Errorf("create %s on %s: %w", p, h.Name(), err)
	}
	w, err := s.StdinPipe()
	var stderr bytes.Buffer
	s.Stderr = &stderr
	if err == nil {
		err = s.Start(cmd)
	}
	if err != nil {
		s.Close()
		release()
		return nil, fmt.Errorf("create %s on %s: %w", p, h.Name(), err)
	}
	return &cmdWriter{h: h, p: p, argv: argv, s: s, w: w, stderr: &stderr, release: release}, nil
}

type cmdWriter struct {
	h       *Host
	p       string
	argv    []string
	s       *ssh.Session
	w       io.WriteCloser
	stderr  *bytes.Buffer
	release func()
	closed  bool
}

func (c *cmdWriter) Write(b []byte) (int, error) { return c.w.Write(b) }

func (c *cmdWriter) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	defer c.release()
	defer c.s.Close()
	c.w.Close()
	code, err := exitCode(c.s.Wait())
	if err != nil {
		return fmt.Errorf("write %s on %s: %w", c.p, c.h.Name(), err)
	}
	if code != 0 {
		return c.h.cmdErr("write", c.p, c.argv, transport.Result{ExitCode: code, Stderr: c.stderr.Bytes()})
	}
	return nil
}

func (h *Host) sudoRename(ctx context.Context, oldpath, newpath string) error {
	if !path.IsAbs(newpath) {
		return fmt.Errorf("rename %s to %s on %s: the path must be absolute", oldpath, newpath, h.Name())
	}
	// -T: never move into newpath when it is a directory.
	_, err := h.run(ctx, "rename", oldpath, nil, "mv", "-f", "-T", "--", oldpath, newpath)
	return err
}

func (h *Host) sudoRemove(ctx context.Context, p string) error {
	fi, err := h.sudoStat(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		_, err = h.run(ctx, "remove", p, nil, "rmdir", "--", p)
	} else {
		_, err = h.run(ctx, "remove", p, nil, "rm", "-f", "--", p)
	}
	return err
}

func (h *Host) sudoMkdirAll(ctx context.Context, p string, mode fs.FileMode) error {
	_, err := h.run(ctx, "mkdir", p, nil, "mkdir", "-p", "-m", octal(mode.Perm()), "--", p)
	return err
}

func (h *Host) sudoChown(ctx context.Context, p string, uid, gid int) error {
	var err error
	switch {
	case uid < 0 && gid < 0:
	case gid < 0:
		_, err = h.run(ctx, "chown", p, nil, "chown", strconv.Itoa(uid), "--", p)
	case uid < 0:
		_, err = h.run(ctx, "chown", p, nil, "chgrp", strconv.Itoa(gid), "--", p)
	default:
		_, err = h.run(ctx, "chown", p, nil, "chown", strconv.Itoa(uid)+":"+strconv.Itoa(gid), "--", p)
	}
	return err
}

func (h *Host) sudoChmod(ctx context.Context, p string, mode fs.FileMode) error {
	_, err := h.run(ctx, "chmod", p, nil, "chmod", octal(mode), "--", p)
	return err
}

func (h *Host) sudoChtimes(ctx context.Context, p string, mtime time.Time) error {
	stamp := fmt.Sprintf("@%d.%09d", mtime.Unix(), mtime.Nanosecond())
	_, err := h.run(ctx, "chtimes", p, nil, "touch", "-c", "-d", stamp, "--", p)
	return err
}
