package local

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
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/mailplan/mailplan/resources/transport"
)

// Host is this machine.
type Host struct {
	name string
	log  hclog.Logger
}

var _ transport.Host = (*Host)(nil)

// New returns this machine as the host block called name; messages name it
// `host "NAME"`. A nil logger discards.
func New(name string, logger hclog.Logger) *Host {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Host{name: name, log: logger}
}

// Name implements transport.Host.
func (h *Host) Name() string { return fmt.Sprintf("host %q", h.name) }

// Run implements transport.Host. argv[0] is looked up in PATH and run
// directly; a program that cannot be found or started is an error.
func (h *Host) Run(ctx context.Context, argv []string, opts transport.RunOptions) (transport.Result, error) {
	if len(argv) == 0 {
		return transport.Result{}, errors.New("run: empty command")
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	if opts.Stdout != nil {
		cmd.Stdout = io.MultiWriter(&stdout, opts.Stdout)
	}
	cmd.Stderr = &stderr
	cmd.Stdin = opts.Stdin
	if len(opts.Env) > 0 {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	// Do not wait for grandchildren holding the pipes after a kill.
	cmd.WaitDelay = 5 * time.Second
	// Only the program: arguments may hold values the user marked sensitive.
	h.log.Trace("run", "command", argv[0], "args", len(argv)-1)
	err := cmd.Run()
	res := transport.Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if ctx.Err() != nil {
		return res, fmt.Errorf("run %s: %w", argv[0], ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		res.ExitCode = ee.ExitCode()
	default:
		return res, fmt.Errorf("run %s: %w", argv[0], err)
	}
	return res, nil
}

// Stat implements transport.Host.
func (h *Host) Stat(ctx context.Context, path string) (transport.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return transport.FileInfo{}, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return transport.FileInfo{}, fmt.Errorf("stat: %w", err)
	}
	return fileInfo(fi), nil
}

func fileInfo(fi fs.FileInfo) transport.FileInfo {
	out := transport.FileInfo{
		Name:    fi.Name(),
		Size:    fi.Size(),
		Mode:    fi.Mode(),
		ModTime: fi.ModTime(),
		UID:     -1,
		GID:     -1,
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out.UID = int(st.Uid)
		out.GID = int(st.Gid)
	}
	return out
}

// ReadFile implements transport.Host.
func (h *Host) ReadFile(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return b, nil
}

// Open implements transport.Host.
func (h *Host) Open(ctx context.Context, path string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return f, nil
}

// ReadDir implements transport.Host.
func (h *Host) ReadDir(ctx context.Context, path string) ([]transport.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("read directory: %w", err)
	}
	out := make([]transport.FileInfo, 0, len(entries))
	for _, e := range entries {
		fi, err := e.Info() // lstat
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed while listing
		}
		if err != nil {
			return nil, fmt.Errorf("read directory %s: %w", path, err)
		}
		out = append(out, fileInfo(fi))
	}
	return out, nil
}

// TempName returns a fresh name for a temporary file beside path:
// `.NAME.mailplan-tmp-XXXXXXXX` in path's directory.
func TempName(path string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+transport.TempMarker+hex.EncodeToString(b[:]))
}

// WriteFile implements transport.Host.
func (h *Host) WriteFile(ctx context.Context, path string, data []byte, opts transport.WriteOptions) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	var f *os.File
	var tmp string
	for range 10 {
		tmp = TempName(path)
		f, err = os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("write %s: create temporary file: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			if rerr := os.Remove(tmp); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				h.log.Warn("cannot remove temporary file", "path", tmp, "error", rerr)
			}
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	// chown before chmod: chown clears the set-id bits.
	if opts.UID >= 0 || opts.GID >= 0 {
		if err = f.Chown(opts.UID, opts.GID); err != nil {
			return fmt.Errorf("chown %s: %w", tmp, err)
		}
	}
	if err = f.Chmod(opts.Mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		// The file is in place; only its durability across a crash is in
		// doubt, and the caller cannot undo the rename by failing.
		h.log.Warn("cannot fsync directory", "path", filepath.Dir(path), "error", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Create implements transport.Host.
func (h *Host) Create(ctx context.Context, path string, mode fs.FileMode) (io.WriteCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	return f, nil
}

// Rename implements transport.Host.
func (h *Host) Rename(ctx context.Context, oldpath, newpath string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return os.Rename(oldpath, newpath)
}

// Remove implements transport.Host.
func (h *Host) Remove(ctx context.Context, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}

// MkdirAll implements transport.Host.
func (h *Host) MkdirAll(ctx context.Context, path string, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.MkdirAll(path, mode.Perm()); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	return nil
}

// Chown implements transport.Host.
func (h *Host) Chown(ctx context.Context, path string, uid, gid int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	return nil
}

// Chmod implements transport.Host.
func (h *Host) Chmod(ctx context.Context, path string, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}

// Chtimes implements transport.Host.
func (h *Host) Chtimes(ctx context.Context, path string, mtime time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		return fmt.Errorf("chtimes: %w", err)
	}
	return nil
}

// LookupUser implements transport.Host.
func (h *Host) LookupUser(ctx context.Context, name string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil && id >= 0 {
		return id, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return -1, fmt.Errorf("look up user %q on %s: %w", name, h.Name(), err)
	}
	return strconv.Atoi(u.Uid)
}

// LookupGroup implements transport.Host.
func (h *Host) LookupGroup(ctx context.Context, name string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil && id >= 0 {
		return id, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return -1, fmt.Errorf("look up group %q on %s: %w", name, h.Name(), err)
	}
	return strconv.Atoi(g.Gid)
}

// UserName implements transport.Host.
func (h *Host) UserName(ctx context.Context, uid int) (string, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	var unknown user.UnknownUserIdError
	if errors.As(err, &unknown) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up uid %d on %s: %w", uid, h.Name(), err)
	}
	return u.Username, nil
}

// GroupName implements transport.Host.
func (h *Host) GroupName(ctx context.Context, gid int) (string, error) {
	g, err := user.LookupGroupId(strconv.Itoa(gid))
	var unknown user.UnknownGroupIdError
	if errors.As(err, &unknown) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("look up gid %d on %s: %w", gid, h.Name(), err)
	}
	return g.Name, nil
}

var _ transport.FSStater = (*Host)(nil)

// StatFS implements transport.FSStater.
func (h *Host) StatFS(ctx context.Context, path string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

var _ transport.FSSyncer = (*Host)(nil)

// SyncFS implements transport.FSSyncer with syncfs(2).
func (h *Host) SyncFS(ctx context.Context, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("syncfs: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", path, err)
	}
	return nil
}
