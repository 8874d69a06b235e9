package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// CorpusOptions configures the Maildir trees GenerateCorpus writes.
type CorpusOptions struct {
	// Root is the directory to fill: USER's Maildir++ is
	// ROOT/USER/Maildir (ROOT/USER is the user's home, as Dovecot's
	// mail_location = maildir:~/Maildir sees it). Created when missing;
	// it must not hold any of Users yet. Dovecot's mail user must be
	// able to traverse every directory above it (os.MkdirTemp makes
	// 0700 directories: chmod them 0755).
	Root string
	// Users are the users to make a Maildir for; default
	// {"alice", "bob", "carol"}.
	Users []string
	// Messages is the total number of messages, across users and
	// folders.
	Messages int
	// Seed makes the corpus: the same options give the same message
	// files, names and contents (Dovecot's files, made by Dovecot, hold
	// a time-based UIDVALIDITY).
	Seed int64
	// MaxSize is the size of the largest message; default 25 MiB.
	// Sizes are drawn like real mail: most 2–50 KiB, some up to 1 MiB,
	// about 1% 1–5 MiB, a handful (one per 4,000 messages, at least one
	// from 50 messages on) between 5 MiB and MaxSize, and about 0.5%
	// empty files. Sizes above MaxSize are cut to it.
	MaxSize int64
	// Owner and Group are the numeric ids to chown every file and
	// directory to; -1 keeps the writer's (so does 0 when not root).
	Owner, Group int
}

// Corpus is what GenerateCorpus wrote.
type Corpus struct {
	// Root is CorpusOptions.Root, absolute.
	Root string
	// Users are the users with a Maildir under Root.
	Users []string
	// Messages is the number of message files.
	Messages int
	// Bytes is the total size of the message files.
	Bytes int64
	// Mailboxes are the paths, relative to Root and sorted, of every
	// Maildir: "alice/Maildir", "alice/Maildir/.Sent", …
	Mailboxes []string
}

// corpusFolder is one Maildir++ folder every user has.
type corpusFolder struct {
	dir    string  // "" for INBOX, else ".Name" as on disk
	name   string  // the mailbox name Dovecot shows (UTF-8, "." separator)
	weight float64 // share of the messages
}

// corpusFolders is every user's layout: Maildir++ folders, nested
// (Archive.2024.Q1 under Archive.2024, whose parent Archive has no
// directory), a name with a space, a modified UTF-7 name (Café), and an
// empty Trash.
var corpusFolders = []corpusFolder{
	{"", "INBOX", 0.50},
	{".Sent", "Sent", 0.18},
	{".Drafts", "Drafts", 0.02},
	{".Trash", "Trash", 0},
	{".Archive.2024", "Archive.2024", 0.13},
	{".Archive.2024.Q1", "Archive.2024.Q1", 0.08},
	{".My Folder", "My Folder", 0.06},
	{".Caf&AOk-", "Café", 0.03},
}

// corpusKeywords is every mailbox's dovecot-keywords: lower-case flag
// letter a is keyword 0, b 1, …
var corpusKeywords = []string{"$Forwarded", "Junk", "NonJunk", "$label1", "work"}

// corpusHost is the host part of the messages' unique names.
const corpusHost = "mx1.example.net"

// corpusMessage is one message file to write.
type corpusMessage struct {
	path  string // absolute
	size  int64
	mtime time.Time
	seed  uint64
	user  string
	multi bool // multipart with a base64 attachment
}

// GenerateCorpus writes Maildir++ trees for opts.Users under opts.Root
// (see CorpusOptions) and has Dovecot make each mailbox's
// dovecot-uidlist, its dovecot.index.log and each user's subscriptions
// (doveadm, with a throwaway configuration; it runs as the mail user
// Owner, or nobody when Owner is root or kept by root). It fails when
// doveadm is not installed (the error matches ErrUnavailable).
//
// Each user's Maildir has cur/, new/ and tmp/ and the folders of
// corpusFolders, each with maildirfolder and dovecot-keywords. Messages
// are named as Dovecot names them (TIME.M<usec>P<pid>Q<n>.HOST,S=<size>,
// W=<vsize>), in cur/ with ":2,FLAGS" (flags from DFPRST and keyword
// letters) or, about 3%, in new/ without; each is an RFC 5322 message
// (LF line ends) whose Date and modification time match TIME, larger
// ones multipart with a base64 attachment.
func GenerateCorpus(opts CorpusOptions) (*Corpus, error) {
	if opts.Root == "" {
		return nil, errors.New("corpus: no Root")
	}
	if opts.Messages < 0 {
		return nil, fmt.Errorf("corpus: %d messages", opts.Messages)
	}
	if opts.Users == nil {
		opts.Users = []string{"alice", "bob", "carol"}
	}
	if len(opts.Users) == 0 {
		return nil, errors.New("corpus: no users")
	}
	seen := map[string]bool{}
	for _, u := range opts.Users {
		if !postfixLocalRE.MatchString(u) || seen[u] {
			return nil, fmt.Errorf("corpus: user %q is not a lower-case name, or is listed twice", u)
		}
		seen[u] = true
	}
	if opts.MaxSize == 0 {
		opts.MaxSize = 25 << 20
	}
	if opts.MaxSize < 0 {
		return nil, fmt.Errorf("corpus: MaxSize %d", opts.MaxSize)
	}
	doveadm, err := lookSbin("doveadm")
	if err != nil {
		return nil, unavailable{"corpus: Dovecot's doveadm makes the dovecot-uidlist files and is not installed (dovecot-core): " + err.Error()}
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	for _, u := range opts.Users {
		if _, err := os.Lstat(filepath.Join(root, u)); err == nil {
			return nil, fmt.Errorf("corpus: %s already exists", filepath.Join(root, u))
		}
	}
	runUID, runGID, err := corpusMailUser(opts.Owner, opts.Group)
	if err != nil {
		return nil, err
	}
	if err := checkTraversable(root, runUID, runGID); err != nil {
		return nil, fmt.Errorf("corpus: Dovecot's mail user cannot reach %s: %w", root, err)
	}

	c := &Corpus{Root: root, Users: append([]string(nil), opts.Users...)}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), 0x6d61696c706c616e))
	// Layout.
	for _, u := range opts.Users {
		md := filepath.Join(root, u, "Maildir")
		for _, f := range corpusFolders {
			dir := filepath.Join(md, f.dir)
			for _, sub := range []string{"cur", "new", "tmp"} {
				if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
					return nil, fmt.Errorf("corpus: %w", err)
				}
			}
			if f.dir != "" {
				if err := os.WriteFile(filepath.Join(dir, "maildirfolder"), nil, 0o600); err != nil {
					return nil, fmt.Errorf("corpus: %w", err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, "dovecot-keywords"), []byte(keywordsFile()), 0o600); err != nil {
				return nil, fmt.Errorf("corpus: %w", err)
			}
			rel, _ := filepath.Rel(root, dir)
			c.Mailboxes = append(c.Mailboxes, rel)
		}
	}
	sort.Strings(c.Mailboxes)

	// Every message's place, name and size, drawn in order from rng.
	sizes := corpusSizes(rng, opts.Messages, opts.MaxSize, true)
	userWeights := make([]float64, len(opts.Users))
	for i := range userWeights {
		userWeights[i] = 0.5 + rng.Float64()
	}
	folderWeights := make([]float64, len(corpusFolders))
	for i, f := range corpusFolders {
		folderWeights[i] = f.weight
	}
	pids := make([]int, len(opts.Users))
	for i := range pids {
		pids[i] = 1000 + rng.IntN(60000)
	}
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	span := int64(2 * 365 * 24 * 3600)
	msgs := make([]corpusMessage, opts.Messages)
	for i := range msgs {
		ui := pick(rng, userWeights)
		f := corpusFolders[pick(rng, folderWeights)]
		t := time.Unix(start+rng.Int64N(span), 0).UTC()
		size := sizes[i]
		isNew := f.dir == "" && rng.IntN(100) < 6 // ~3% of all: INBOX only, as delivered
		var name strings.Builder
		fmt.Fprintf(&name, "%d.M%dP%dQ%d.%s,S=%d,W=", t.Unix(), rng.IntN(1000000), pids[ui], i+1, corpusHost, size)
		sub := "new"
		if !isNew {
			sub = "cur"
		}
		msgs[i] = corpusMessage{
			path:  filepath.Join(root, opts.Users[ui], "Maildir", f.dir, sub, name.String()),
			size:  size,
			mtime: t,
			seed:  rng.Uint64(),
			user:  opts.Users[ui],
			multi: size > 64<<10 || (size > 16<<10 && rng.IntN(3) == 0),
		}
		// The flags suffix: W= (the size with CRLF line ends) is known
		// only once the content is, so the writer appends it; the
		// suffix is drawn here, in order.
		if !isNew {
			msgs[i].path += "\x00" + ":2," + drawFlags(rng, f.name)
		}
		c.Bytes += size
	}
	c.Messages = len(msgs)
	if err := writeMessages(msgs, opts.Seed); err != nil {
		return nil, err
	}

	// Dovecot's files, made by Dovecot as the mail user.
	euid := os.Geteuid()
	if euid == 0 {
		if err := chownTree(root, opts.Users, runUID, runGID); err != nil {
			return nil, err
		}
	}
	if err := dovecotIndexCorpus(doveadm, root, opts.Users, runUID, runGID); err != nil {
		return nil, err
	}
	for _, mb := range c.Mailboxes {
		if _, err := os.Stat(filepath.Join(root, mb, "dovecot-uidlist")); err != nil {
			return nil, fmt.Errorf("corpus: doveadm made no dovecot-uidlist in %s: %w", mb, err)
		}
	}
	finalUID, finalGID := finalOwner(opts.Owner, opts.Group)
	if finalUID != runUID || finalGID != runGID {
		if euid == 0 || finalUID != -1 || finalGID != -1 {
			if err := chownTree(root, opts.Users, finalUID, finalGID); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// finalOwner returns the ids the corpus ends up owned by: Owner and
// Group, -1 (or 0 when not root) meaning the writer's.
func finalOwner(owner, group int) (int, int) {
	euid, egid := os.Geteuid(), os.Getegid()
	if owner < 0 || (owner == 0 && euid != 0) {
		owner = euid
	}
	if group < 0 || (group == 0 && euid != 0) {
		group = egid
	}
	return owner, group
}

// corpusMailUser returns the ids doveadm runs as: Dovecot refuses root,
// so root's corpus is made as nobody (or Owner and Group when they are
// not root's), anyone else's as themselves.
func corpusMailUser(owner, group int) (uid, gid int, err error) {
	if os.Geteuid() != 0 {
		return os.Geteuid(), os.Getegid(), nil
	}
	uid, gid = owner, group
	if uid <= 0 || gid <= 0 {
		nuid, ngid, err := lookupIDs(mailboxUser)
		if err != nil {
			return 0, 0, fmt.Errorf("corpus: %w", err)
		}
		if uid <= 0 {
			uid = nuid
		}
		if gid <= 0 {
			gid = ngid
		}
	}
	return uid, gid, nil
}

// checkTraversable checks that uid:gid may search every directory from
// / down to dir.
func checkTraversable(dir string, uid, gid int) error {
	if uid == 0 {
		return nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		mode := fi.Mode().Perm()
		switch {
		case int(st.Uid) == uid:
			if mode&0o100 == 0 {
				return fmt.Errorf("%s has mode %v", d, mode)
			}
		case int(st.Gid) == gid:
			if mode&0o010 == 0 {
				return fmt.Errorf("%s has mode %v and group %d", d, mode, st.Gid)
			}
		case mode&0o001 == 0:
			return fmt.Errorf("uid %d may not search %s (mode %v, owner %d:%d): make it mode 0755", uid, d, mode, st.Uid, st.Gid)
		}
		if d == "/" || d == filepath.Dir(d) {
			return nil
		}
	}
}

// chownTree chowns ROOT/USER and everything in it, for every user.
func chownTree(root string, users []string, uid, gid int) error {
	for _, u := range users {
		err := filepath.WalkDir(filepath.Join(root, u), func(p string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, uid, gid)
		})
		if err != nil {
			return fmt.Errorf("corpus: chown: %w", err)
		}
	}
	return nil
}

// doveadmCorpusConf is the throwaway configuration doveadm reads to make
// the corpus's Dovecot files: the user's home and name come from the
// environment (no userdb), control and index files inside the Maildir.
const doveadmCorpusConf = `# Written by the mailplan test bed's corpus generator for one doveadm run.
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/doveadm.log
mail_location = maildir:~/Maildir
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
first_valid_gid = 1
ssl = no
namespace inbox {
  inbox = yes
}
`

// dovecotIndexCorpus runs doveadm for each user: mailbox status, which
// syncs every mailbox (dovecot-uidlist, dovecot.index.log), and mailbox
// subscribe (subscriptions).
func dovecotIndexCorpus(doveadm, root string, users []string, uid, gid int) error {
	dir, err := os.MkdirTemp("", "mailplan-doveadm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	conf := strings.NewReplacer("{dir}", dir, "{uid}", strconv.Itoa(uid), "{gid}", strconv.Itoa(gid)).Replace(doveadmCorpusConf)
	confPath := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return err
	}
	var subscribe []string
	for _, f := range corpusFolders {
		subscribe = append(subscribe, f.name)
	}
	errs := make([]error, len(users))
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			home := filepath.Join(root, u)
			env := []string{"HOME=" + home, "USER=" + u, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
			if _, err := runDoveadm(doveadm, env, "-c", confPath, "mailbox", "status", "messages uidvalidity uidnext", "*"); err != nil {
				errs[i] = fmt.Errorf("corpus: user %s: %w", u, err)
				return
			}
			if _, err := runDoveadm(doveadm, env, append([]string{"-c", confPath, "mailbox", "subscribe"}, subscribe...)...); err != nil {
				errs[i] = fmt.Errorf("corpus: user %s: %w", u, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "doveadm.log"))
		return fmt.Errorf("%w\ndoveadm log:\n%s", err, log)
	}
	return nil
}

// runDoveadm runs doveadm with env and returns its standard output; its
// error holds standard error. doveadm may report errors and exit 0:
// any "Error:" line is a failure.
func runDoveadm(doveadm string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, doveadm, args...)
	cmd.Env = env
	cmd.Dir = "/"
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil && bytes.Contains(stderr.Bytes(), []byte("Error:")) {
		err = errors.New("reported errors")
	}
	if err != nil {
		return stdout.String(), fmt.Errorf("doveadm %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// keywordsFile is a dovecot-keywords file for corpusKeywords.
func keywordsFile() string {
	var b strings.Builder
	for i, k := range corpusKeywords {
		fmt.Fprintf(&b, "%d %s\n", i, k)
	}
	return b.String()
}

// MakeCorpus is GenerateCorpus for a test: opts.Root defaults to a new
// directory in the test's temporary directory, made searchable (0755,
// with its parents) for Dovecot's mail user. Without doveadm the test is
// skipped, or fails when Strict.
func MakeCorpus(t testing.TB, opts CorpusOptions) *Corpus {
	t.Helper()
	if opts.Root == "" {
		opts.Root = SearchableTempDir(t)
	}
	c, err := GenerateCorpus(opts)
	if err != nil {
		skipOrFatal(t, err)
	}
	return c
}

// SearchableTempDir returns a new directory in the test's temporary
// directory that other users (Dovecot's mail user, sshd's sessions) may
// search: it and its parents up to the system's temporary directory are
// made mode 0755 (t.TempDir makes them 0700). It is removed when the
// test ends.
func SearchableTempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	tmp := filepath.Clean(os.TempDir())
	for d := dir; d != tmp && strings.HasPrefix(d, tmp+"/"); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// AddMessages delivers n new messages, as an MDA would (written to tmp/,
// renamed into new/, with no ":2," suffix, owned like new/), to the
// Maildirs under root (picked at random among every Maildir found:
// INBOX, folders), for incremental re-runs. Their names and contents
// are drawn from seed and differ from every existing message's. It
// returns their paths relative to root.
func AddMessages(root string, n int, seed int64) ([]string, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	boxes, err := FindMaildirs(root)
	if err != nil {
		return nil, err
	}
	if len(boxes) == 0 {
		return nil, fmt.Errorf("add messages: no Maildir under %s", root)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6164646d7367))
	sizes := corpusSizes(rng, n, 5<<20, false)
	pid := 1000 + rng.IntN(60000)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix() + rng.Int64N(365*24*3600)
	msgs := make([]corpusMessage, n)
	final := make([]string, n)
	owners := make([][2]int, n)
	for i := range msgs {
		box := boxes[rng.IntN(len(boxes))]
		t := time.Unix(base+int64(i)*17+rng.Int64N(17), 0).UTC()
		user, _, _ := strings.Cut(box, "/")
		name := fmt.Sprintf("%d.M%dP%dQ%d.%s,S=%d,W=", t.Unix(), rng.IntN(1000000), pid, i+1, corpusHost, sizes[i])
		msgs[i] = corpusMessage{
			path:  filepath.Join(root, box, "tmp", name),
			size:  sizes[i],
			mtime: t,
			seed:  rng.Uint64(),
			user:  user,
			multi: sizes[i] > 64<<10,
		}
		fi, err := os.Stat(filepath.Join(root, box, "new"))
		if err != nil {
			return nil, fmt.Errorf("add messages: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		owners[i] = [2]int{-1, -1}
		if ok {
			owners[i] = [2]int{int(st.Uid), int(st.Gid)}
		}
	}
	if err := writeMessages(msgs, seed); err != nil {
		return nil, err
	}
	for i, m := range msgs {
		newPath := filepath.Join(filepath.Dir(filepath.Dir(m.path)), "new", filepath.Base(m.path))
		if _, err := os.Lstat(newPath); err == nil {
			os.Remove(m.path)
			return nil, fmt.Errorf("add messages: %s exists", newPath)
		}
		if owners[i][0] >= 0 && (owners[i][0] != os.Geteuid() || owners[i][1] != os.Getegid()) {
			if err := os.Lchown(m.path, owners[i][0], owners[i][1]); err != nil {
				return nil, fmt.Errorf("add messages: %w", err)
			}
		}
		if err := os.Rename(m.path, newPath); err != nil {
			return nil, fmt.Errorf("add messages: %w", err)
		}
		final[i], _ = filepath.Rel(root, newPath)
	}
	return final, nil
}

// FindMaildirs returns the paths, relative to root and sorted, of every
// Maildir under root: a directory holding cur, new and tmp.
func FindMaildirs(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		switch d.Name() {
		case "cur", "new", "tmp":
			if p != root {
				return fs.SkipDir
			}
		}
		ok := true
		for _, sub := range []string{"cur", "new", "tmp"} {
			fi, err := os.Stat(filepath.Join(p, sub))
			ok = ok && err == nil && fi.IsDir()
		}
		if ok {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}
