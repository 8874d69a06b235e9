package testbed

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// messageNameRE matches a corpus message's file name: Dovecot's unique
// name with S= and W=, and in cur/ a ":2," flags suffix.
var messageNameRE = regexp.MustCompile(`^(\d+)\.M\d+P\d+Q\d+\.mx1\.example\.net,S=(\d+),W=(\d+)(:2,([DFPRST]*)([a-z]*))?$`)

// corpusFiles maps the path (relative to root) of every message file
// under root to its content.
func corpusFiles(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if sub := filepath.Base(filepath.Dir(p)); sub == "cur" || sub == "new" || sub == "tmp" {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			out[rel] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCorpusDeterministicAndLaid(t *testing.T) {
	opts := CorpusOptions{Messages: 400, Seed: 7, MaxSize: 3 << 20, Owner: -1, Group: -1}
	a := MakeCorpus(t, opts)
	b := MakeCorpus(t, opts)
	fa, fb := corpusFiles(t, a.Root), corpusFiles(t, b.Root)
	if len(fa) != 400 || a.Messages != 400 {
		t.Fatalf("%d message files, Messages %d; want 400", len(fa), a.Messages)
	}
	for p, content := range fa {
		if !bytes.Equal(fb[p], content) {
			t.Fatalf("same seed, different corpus: %s", p)
		}
	}
	opts.Seed = 8
	c := MakeCorpus(t, opts)
	same := 0
	for p := range corpusFiles(t, c.Root) {
		if _, ok := fa[p]; ok {
			same++
		}
	}
	if same > 0 {
		t.Errorf("seeds 7 and 8 share %d message names", same)
	}

	// Layout: every user's Maildir++ with its folders.
	var want []string
	for _, u := range []string{"alice", "bob", "carol"} {
		for _, f := range corpusFolders {
			want = append(want, filepath.Join(u, "Maildir", f.dir))
		}
	}
	sort.Strings(want)
	if strings.Join(a.Mailboxes, "|") != strings.Join(want, "|") {
		t.Errorf("Mailboxes %q, want %q", a.Mailboxes, want)
	}
	found, err := FindMaildirs(a.Root)
	if err != nil || strings.Join(found, "|") != strings.Join(want, "|") {
		t.Errorf("FindMaildirs %q, %v", found, err)
	}
	for _, mb := range a.Mailboxes {
		dir := filepath.Join(a.Root, mb)
		_, err := os.Stat(filepath.Join(dir, "maildirfolder"))
		if isFolder := filepath.Base(dir) != "Maildir"; isFolder != (err == nil) {
			t.Errorf("%s: maildirfolder: %v", mb, err)
		}
		if kw, err := os.ReadFile(filepath.Join(dir, "dovecot-keywords")); err != nil || !strings.HasPrefix(string(kw), "0 $Forwarded\n") {
			t.Errorf("%s: dovecot-keywords %q, %v", mb, kw, err)
		}
		// Dovecot's uidlist lists every message, and Dovecot made its
		// index log.
		uidlist, err := os.ReadFile(filepath.Join(dir, "dovecot-uidlist"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(uidlist)), "\n")
		if !regexp.MustCompile(`^3 V\d+ N\d+ G[0-9a-f]{32}$`).MatchString(lines[0]) {
			t.Errorf("%s: dovecot-uidlist header %q", mb, lines[0])
		}
		n := 0
		for _, sub := range []string{"cur", "new"} {
			entries, _ := os.ReadDir(filepath.Join(dir, sub))
			n += len(entries)
		}
		if len(lines)-1 != n {
			t.Errorf("%s: dovecot-uidlist lists %d messages, the Maildir has %d", mb, len(lines)-1, n)
		}
		if _, err := os.Stat(filepath.Join(dir, "dovecot.index.log")); err != nil {
			t.Errorf("%s: %v", mb, err)
		}
	}
	subs, err := os.ReadFile(filepath.Join(a.Root, "alice/Maildir/subscriptions"))
	if err != nil || !strings.Contains(string(subs), "Caf&AOk-\n") || !strings.Contains(string(subs), "My Folder\n") {
		t.Errorf("subscriptions %q, %v", subs, err)
	}

	// Names, sizes, flags, new/ and cur/.
	var total int64
	inNew, keywords, empty := 0, 0, 0
	for p, content := range fa {
		m := messageNameRE.FindStringSubmatch(filepath.Base(p))
		if m == nil {
			t.Fatalf("message name %q", p)
		}
		size, _ := strconv.ParseInt(m[2], 10, 64)
		vsize, _ := strconv.ParseInt(m[3], 10, 64)
		if size != int64(len(content)) || vsize != size+int64(bytes.Count(content, []byte("\n"))) {
			t.Errorf("%s: S=%d W=%d for %d bytes", p, size, vsize, len(content))
		}
		total += size
		if size == 0 {
			empty++
		} else if !bytes.HasPrefix(content, []byte("Return-Path: <")) || !bytes.Contains(content, []byte("\n\n")) {
			t.Errorf("%s: not a message: %.80q", p, content)
		}
		switch filepath.Base(filepath.Dir(p)) {
		case "new":
			inNew++
			if m[4] != "" {
				t.Errorf("%s: flags in new/", p)
			}
		case "cur":
			if m[4] == "" {
				t.Errorf("%s: no :2, in cur/", p)
			}
			if m[6] != "" {
				keywords++
			}
		default:
			t.Errorf("%s: not in cur/ or new/", p)
		}
		fi, _ := os.Stat(filepath.Join(a.Root, p))
		if strconv.FormatInt(fi.ModTime().Unix(), 10) != m[1] {
			t.Errorf("%s: modified %v", p, fi.ModTime())
		}
	}
	if total != a.Bytes {
		t.Errorf("Bytes %d, files hold %d", a.Bytes, total)
	}
	if inNew == 0 || keywords == 0 || empty == 0 {
		t.Errorf("%d in new/, %d with keywords, %d empty: want some of each", inNew, keywords, empty)
	}
}

func TestCorpusSizes(t *testing.T) {
	const n = 20000
	sizes := corpusSizes(rand.New(rand.NewPCG(1, 2)), n, 25<<20, true)
	var small, mib, huge, zero int
	var total int64
	for _, s := range sizes {
		total += s
		switch {
		case s == 0:
			zero++
		case s > 25<<20:
			t.Fatalf("size %d above MaxSize", s)
		case s >= 5<<20:
			huge++
		case s >= 1<<20:
			mib++
		case s >= 2<<10 && s <= 50<<10:
			small++
		}
	}
	t.Logf("%d messages: %d of 2-50 KiB, %d of 1-5 MiB, %d of 5-25 MiB, %d empty, %.0f MiB", n, small, mib, huge, zero, float64(total)/(1<<20))
	if small < n*85/100 || mib != n/100 || huge != n/4000 || zero != n/200 {
		t.Errorf("distribution: %d small, %d MiB-size, %d huge, %d empty", small, mib, huge, zero)
	}
	if total < 900<<20 || total > 1600<<20 {
		t.Errorf("20,000 messages make %d MiB, want about 1 GiB", total>>20)
	}
}

func TestCorpusOwnerAndAdd(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFatal(t, unavailable{"chown to the mail user needs root"})
	}
	uid, gid, err := lookupIDs(mailboxUser)
	if err != nil {
		t.Fatal(err)
	}
	c := MakeCorpus(t, CorpusOptions{Users: []string{"dora"}, Messages: 60, Seed: 3, MaxSize: 1 << 20, Owner: uid, Group: gid})
	before := corpusFiles(t, c.Root)
	err = filepath.WalkDir(c.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == c.Root {
			return err
		}
		st := mustStat(t, p)
		if int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, uid, gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	added, err := AddMessages(c.Root, 25, 99)
	if err != nil {
		t.Fatal(err)
	}
	after := corpusFiles(t, c.Root)
	if len(added) != 25 || len(after) != len(before)+25 {
		t.Fatalf("added %d, %d files then %d", len(added), len(before), len(after))
	}
	for _, p := range added {
		if _, ok := before[p]; ok || filepath.Base(filepath.Dir(p)) != "new" || strings.Contains(p, ":2,") {
			t.Errorf("added %s", p)
		}
		if _, ok := after[p]; !ok {
			t.Errorf("added %s: not there", p)
		}
		if st := mustStat(t, filepath.Join(c.Root, p)); int(st.Uid) != uid {
			t.Errorf("added %s owned by %d", p, st.Uid)
		}
	}
	for p, b := range before {
		if !bytes.Equal(after[p], b) {
			t.Errorf("AddMessages changed %s", p)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(c.Root, "dora/Maildir/tmp")); len(entries) != 0 {
		t.Errorf("tmp/ holds %d files", len(entries))
	}
}

func mustStat(t *testing.T, p string) *syscall.Stat_t {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t)
}

func TestCorpusOptionsChecked(t *testing.T) {
	for _, o := range []CorpusOptions{
		{},
		{Root: t.TempDir(), Users: []string{}},
		{Root: t.TempDir(), Users: []string{"Bad User"}},
		{Root: t.TempDir(), Messages: -1},
	} {
		if _, err := GenerateCorpus(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func BenchmarkCorpus20000(b *testing.B) {
	for b.Loop() {
		root := filepath.Join(SearchableTempDir(b), "c")
		if _, err := GenerateCorpus(CorpusOptions{Root: root, Messages: 20000, Seed: 1, Owner: -1, Group: -1}); err != nil {
			b.Fatal(err)
		}
	}
}
