package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mailplan/mailplan/resources/testbed"
)

// outageService is a server of the test bed that the matrix stops and
// starts again, on the same address and port, with the command line the
// test bed started it with.
type outageService struct {
	name string
	// proc is the server as mailplan-testbed up recorded it in
	// testbed.pids; proc.Current finds it after a restart too (by its PID
	// file), as `mailplan-testbed down` does.
	proc testbed.Process
	// argv starts it again; foreground servers (sshd -D, named -g) are
	// started in their own session with their output in log, and reaped.
	argv       []string
	foreground bool
	log        string
	// ready is nil once it serves again.
	ready func() error
	// planWithout: plan does not need it running.
	planWithout bool
	// unreachable is what a plan that cannot reach it says.
	unreachable string
}

// outageServices finds sshd, named and the new Postfix in the test bed's
// testbed.pids.
func outageServices(t *testing.T, bed *cliBed) map[string]*outageService {
	t.Helper()
	procs := outagePids(t, filepath.Join(bed.env["TESTBED_DIR"], "testbed.pids"))
	dnsClient := newTTLCache(t, bed).client
	sshd, named, newPF := procs["sshd sshd"], procs["named named"], procs["postfix new"]
	for what, p := range map[string]testbed.Process{"sshd": sshd, "named": named, "postfix new": newPF} {
		if _, ok := p.Current(); !ok {
			t.Fatalf("%s is not running (testbed.pids: %+v)", what, p)
		}
	}
	// named's command line, as the test bed gave it (named keeps it).
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", named.PID))
	if err != nil {
		t.Fatal(err)
	}
	namedArgv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if filepath.Base(namedArgv[0]) != "named" || !strings.Contains(string(cmdline), named.Config) {
		t.Fatalf("named's command line %q", namedArgv)
	}
	return map[string]*outageService{
		"sshd": {
			name: "sshd", proc: sshd, foreground: true, log: bed.env["SSH_LOG"],
			// As resources/testbed starts it (sshd.go): sshd retitles
			// itself, so its command line cannot be read back.
			argv:        []string{testbed.SSHDPath, "-D", "-e", "-f", sshd.Config},
			ready:       func() error { return outageBanner(net.JoinHostPort(bed.env["SSH_HOST"], bed.env["SSH_PORT"]), "SSH-") },
			unreachable: "connection refused",
		},
		"named": {
			name: "named", proc: named, foreground: true, log: bed.env["DNS_LOG"], argv: namedArgv,
			ready: func() error {
				for _, d := range strings.Fields(bed.env["DOMAINS"]) {
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					rr, err := dnsClient.Read(ctx, d+".", d+".", "SOA")
					cancel()
					if err != nil {
						return err
					}
					if !rr.Exists() {
						return fmt.Errorf("no SOA for %s", d)
					}
				}
				return nil
			},
			unreachable: "refused",
		},
		"new Postfix": {
			name: "new Postfix", proc: newPF,
			argv:        []string{testbed.RequireSbin(t, "postfix"), "-c", bed.env["NEW_CONFIG_DIR"], "start"},
			ready:       func() error { return outageBanner(bed.env["NEW_SMTP"], "220 ") },
			planWithout: true,
		},
	}
}

// outagePids reads testbed.pids (see cmd/mailplan-testbed: kind name pid
// start-time config pid-file dir), by "kind name".
func outagePids(t *testing.T, path string) map[string]testbed.Process {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]testbed.Process{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) != 7 || strings.HasPrefix(fl[0], "#") {
			continue
		}
		pid, err1 := strconv.Atoi(fl[2])
		st, err2 := strconv.ParseUint(fl[3], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %q", path, sc.Text())
		}
		out[fl[0]+" "+fl[1]] = testbed.Process{Kind: fl[0], Name: fl[1], PID: pid, StartTime: st, Config: fl[4], PIDFile: fl[5], Dir: fl[6]}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// running reports whether the server runs (the one up started, or the
// one its PID file names now).
func (s *outageService) running() bool {
	_, ok := s.proc.Current()
	return ok
}

// stop stops the server and waits until it and its children (sshd: the
// sessions; Postfix: its process group) have exited, as
// `mailplan-testbed down` does.
func (s *outageService) stop() error {
	cur, ok := s.proc.Current()
	if !ok {
		return fmt.Errorf("%s is not running", s.name)
	}
	if err := cur.Stop(10 * time.Second); err != nil {
		return fmt.Errorf("stop %s: %w", s.name, err)
	}
	if err := s.ready(); err == nil {
		return fmt.Errorf("%s still serves after its stop", s.name)
	}
	return nil
}

// start starts the server again and waits until it serves and its PID
// file names it.
func (s *outageService) start() (time.Duration, error) {
	began := time.Now()
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	if s.foreground {
		logf, err := os.OpenFile(s.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return 0, err
		}
		defer logf.Close()
		// Not the test's stderr (a child holding it makes go test wait);
		// its own session, as the test bed starts it, so that it outlives
		// nothing it should not: `mailplan-testbed down` stops it.
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return 0, fmt.Errorf("start %s: %w", s.name, err)
		}
		go cmd.Wait() // reap it when down stops it
	} else if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("%q: %v\n%s", s.argv, err, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := s.ready()
		if err == nil && s.running() {
			return time.Since(began), nil
		}
		if err == nil {
			err = errors.New("serves, but its PID file does not name it")
		}
		if time.Now().After(deadline) {
			return time.Since(began), fmt.Errorf("%s not back 30 s after %q: %v; its log:\n%s", s.name, s.argv, err, testbed.TailFile(s.log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// outageBanner connects to addr and reads its first line, which must
// begin with prefix.
func outageBanner(addr, prefix string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: %v", addr, err)
	}
	if !strings.HasPrefix(line, prefix) {
		return fmt.Errorf("%s greets with %q", addr, line)
	}
	return nil
}

// outageTruth is what "back" means: what the plan may touch, read from
// the servers.
type outageTruth struct {
	// config: every file and directory in both Postfix configuration
	// directories, with mode, owner and (files) the bytes.
	config map[string]string
	// maildirs: every file and directory in both servers' Maildirs, with
	// mode, owner and (files) a SHA-256 of the bytes.
	maildirs map[string]string
	// dns: the TTL and records of every name and type the plan manages.
	dns map[string]string
	// services: which run.
	services map[string]string
}

// outageRead reads what is there now.
func outageRead(t *testing.T, bed *cliBed, svcs map[string]*outageService) outageTruth {
	t.Helper()
	tr := outageTruth{config: map[string]string{}, maildirs: map[string]string{}, dns: map[string]string{}, services: map[string]string{}}
	for _, side := range []string{"OLD", "NEW"} {
		outageTree(t, side, bed.env[side+"_CONFIG_DIR"], false, tr.config)
		outageTree(t, side, bed.env[side+"_MAILDIR"], true, tr.maildirs)
	}
	client := newTTLCache(t, bed).client
	for _, d := range strings.Fields(bed.env["DOMAINS"]) {
		for _, q := range [][2]string{{d, "MX"}, {d, "TXT"}, {"imap." + d, "A"}, {"smtp." + d, "A"}} {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			rr, err := client.Read(ctx, d+".", q[0]+".", q[1])
			cancel()
			key := q[0] + ". " + q[1]
			if err != nil {
				tr.dns[key] = "error: " + err.Error()
				continue
			}
			tr.dns[key] = fmt.Sprintf("%d %s", rr.TTL, strings.Join(rr.Records, " | "))
		}
	}
	state := func(up bool) string {
		if up {
			return "running"
		}
		return "stopped"
	}
	postfix := testbed.RequireSbin(t, "postfix")
	for _, side := range []string{"OLD", "NEW"} {
		err := exec.Command(postfix, "-c", bed.env[side+"_CONFIG_DIR"], "status").Run()
		tr.services[strings.ToLower(side)+" Postfix"] = state(err == nil)
		tr.services[strings.ToLower(side)+" IMAP"] = state(testbed.IMAPGreeting(bed.env[side+"_IMAP_ADDR"]+":"+bed.env[side+"_IMAP_PORT"]) == nil)
	}
	for _, name := range []string{"sshd", "named"} {
		tr.services[name] = state(svcs[name].ready() == nil)
	}
	return tr
}

// outageTree adds every entry under root to into, by "SIDE/relative
// path": directories with mode and owner, files also with their bytes
// (or, hash, their SHA-256).
func outageTree(t *testing.T, side, root string, hash bool, into map[string]string) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		st, _ := fi.Sys().(*syscall.Stat_t)
		meta := fmt.Sprintf("%v %d:%d", fi.Mode(), st.Uid, st.Gid)
		if !fi.Mode().IsRegular() {
			into[side+"/"+rel] = meta
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if hash {
			sum := sha256.Sum256(b)
			into[side+"/"+rel] = meta + " " + hex.EncodeToString(sum[:8])
		} else {
			into[side+"/"+rel] = meta + "\n" + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", root, err)
	}
}

// outageCheckBack checks that everything is as it was before the first
// apply.
func outageCheckBack(t *testing.T, bed *cliBed, svcs map[string]*outageService, back outageTruth, when string) {
	t.Helper()
	now := outageRead(t, bed, svcs)
	for _, part := range []struct {
		what      string
		back, now map[string]string
	}{
		{"Postfix configuration", back.config, now.config},
		{"Maildirs", back.maildirs, now.maildirs},
		{"DNS", back.dns, now.dns},
		{"services", back.services, now.services},
	} {
		if d := cmp.Diff(part.back, part.now); d != "" {
			t.Errorf("%s %s, not back (-back +now):\n%s", part.what, when, d)
		}
	}
}
