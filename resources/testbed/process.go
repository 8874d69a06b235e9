package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process identifies a server the test bed started (an sshd listener or a
// Postfix master), so that it can be stopped later, from another process
// too (see cmd/mailplan-testbed), without signalling a process that merely
// reuses its PID: Running and Stop check the PID's start time and that
// the process serves Config.
type Process struct {
	// Kind is "sshd", "postfix", "named" or "dovecot".
	Kind string
	// Name is "sshd", or the Postfix instance's name ("old", "new").
	Name string
	// PID is the sshd listener's or the Postfix master's PID.
	PID int
	// StartTime is the process's start time in clock ticks after boot
	// (field 22 of /proc/PID/stat), which differs for a reused PID.
	StartTime uint64
	// Config is the sshd_config path, or the Postfix config_directory.
	Config string
	// PIDFile is where the server writes its PID (sshd's PidFile,
	// Postfix's master.pid): a server restarted by hand (postfix -c
	// Config start) is found there (see Current).
	PIDFile string
	// Dir holds all of the server's files.
	Dir string
}

// Running reports whether PID is still the process recorded: alive, with
// the same start time, serving Config.
func (pr Process) Running() bool {
	if pr.PID <= 1 {
		return false
	}
	st, err := procStartTime(pr.PID)
	return err == nil && st == pr.StartTime && pr.serves(pr.PID)
}

// Current returns the server's process now: pr itself while Running,
// else the process named by PIDFile when it is a live server of Kind
// serving Config (e.g. a Postfix master restarted with postfix -c Config
// start). ok is false when neither runs.
func (pr Process) Current() (cur Process, ok bool) {
	if pr.Running() {
		return pr, true
	}
	b, err := os.ReadFile(pr.PIDFile)
	if err != nil {
		return pr, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || !pr.serves(pid) {
		return pr, false
	}
	st, err := procStartTime(pid)
	if err != nil {
		return pr, false
	}
	cur = pr
	cur.PID, cur.StartTime = pid, st
	return cur, true
}

// serves reports whether pid is a live server of pr's kind for pr.Config.
func (pr Process) serves(pid int) bool {
	if !processAlive(pid) {
		return false
	}
	switch pr.Kind {
	case "sshd":
		// The listener rewrites its title to "sshd: /usr/sbin/sshd -D -e
		// -f CONFIG [listener] ...": the arguments stay in it.
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		return err == nil && bytes.Contains(cmdline, []byte("sshd")) && bytes.Contains(cmdline, []byte(pr.Config))
	case "postfix":
		return isPostfixMaster(pid, pr.Config)
	case "named", "dovecot":
		return runsWithConfig(pid, pr.Kind, pr.Config)
	}
	return false
}

// runsWithConfig reports whether pid is program (by the base name of
// argv[0]) started with -c config, as the test bed starts named and the
// Dovecot master.
func runsWithConfig(pid int, program, config string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	if len(args) == 0 || filepath.Base(string(args[0])) != program {
		return false
	}
	for i := 0; i+1 < len(args); i++ {
		if string(args[i]) == "-c" && string(args[i+1]) == config {
			return true
		}
	}
	return false
}

// Stop stops the process after checking that it is still the one
// recorded (see Running); stopping a process that is not running is an
// error. An sshd listener is sent SIGTERM together with every process it
// started (its sessions); a Postfix master is sent SIGTERM, which it
// passes on to its process group. What is still alive after timeout is
// killed, and Stop reports it.
func (pr Process) Stop(timeout time.Duration) error {
	if !pr.Running() {
		return fmt.Errorf("%s %s: PID %d is not running (or is another process now)", pr.Kind, pr.Name, pr.PID)
	}
	switch pr.Kind {
	case "sshd", "named", "dovecot":
		return stopTree(pr.PID, pr.StartTime, timeout)
	case "postfix":
		return stopPostfixMaster(pr.PID, timeout)
	}
	return fmt.Errorf("unknown kind %q", pr.Kind)
}

// procStat returns the fields of /proc/PID/stat after the command name:
// fields[0] is the state (field 3), fields[1] the parent PID, fields[2]
// the process group, fields[19] the start time (field 22).
func procStat(pid int) ([]string, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// pid (comm) state ...: comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return f, nil
}

// procStartTime returns pid's start time (clock ticks after boot).
func procStartTime(pid int) (uint64, error) {
	f, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// processAlive reports whether pid exists and is not a zombie (PID 1 of
// a container does not always reap the orphaned master).
func processAlive(pid int) bool {
	f, err := procStat(pid)
	return err == nil && f[0] != "Z" && f[0] != "X"
}

// procEntry is one live process: its PID, parent, group and start time.
type procEntry struct {
	pid, ppid, pgrp int
	start           uint64
}

// liveProcesses lists every live (not zombie) process.
func liveProcesses() []procEntry {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procEntry
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		f, err := procStat(pid)
		if err != nil || f[0] == "Z" || f[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		start, _ := strconv.ParseUint(f[19], 10, 64)
		out = append(out, procEntry{pid: pid, ppid: ppid, pgrp: pgrp, start: start})
	}
	return out
}

// processGroupAlive reports whether any live process is in group pgid.
func processGroupAlive(pgid int) bool {
	for _, p := range liveProcesses() {
		if p.pgrp == pgid {
			return true
		}
	}
	return false
}

// tree returns pid (started at start) and every live process descending
// from it.
func tree(pid int, start uint64) []procEntry {
	procs := liveProcesses()
	children := map[int][]procEntry{}
	for _, p := range procs {
		children[p.ppid] = append(children[p.ppid], p)
	}
	out := []procEntry{{pid: pid, start: start}}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i].pid]...)
	}
	return out
}

// alive reports whether p is still the process listed: alive, with the
// same start time.
func (p procEntry) alive() bool {
	f, err := procStat(p.pid)
	if err != nil || f[0] == "Z" || f[0] == "X" {
		return false
	}
	st, err := strconv.ParseUint(f[19], 10, 64)
	return err == nil && st == p.start
}

// stopTree sends SIGTERM to pid (started at start, checked by the caller)
// and to every process descending from it, listed before the first
// signal (an orphan's parent changes), and waits until all have exited;
// after timeout it sends SIGKILL to those left and reports them.
func stopTree(pid int, start uint64, timeout time.Duration) error {
	procs := tree(pid, start)
	for _, p := range procs {
		if p.alive() {
			_ = syscall.Kill(p.pid, syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(timeout)
	for {
		var left []procEntry
		for _, p := range procs {
			if p.alive() {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var pids []string
			for _, p := range left {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
				pids = append(pids, strconv.Itoa(p.pid))
			}
			return fmt.Errorf("PIDs %s did not exit on SIGTERM within %v; killed", strings.Join(pids, ", "), timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// isPostfixMaster reports whether pid is a live (not zombie) Postfix
// master serving configDir (MAIL_CONFIG in its environment): a PID is
// checked before it is signalled, as it may have been reused.
func isPostfixMaster(pid int, configDir string) bool {
	if !processAlive(pid) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("master")) {
		return false
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if string(kv) == "MAIL_CONFIG="+configDir {
			return true
		}
	}
	return false
}

// errMasterKilled is returned by stopPostfixMaster when the master did not
// exit on SIGTERM in time.
var errMasterKilled = errors.New("did not exit on SIGTERM; killed its process group")

// stopPostfixMaster stops the Postfix master pid (checked by the caller)
// and waits until it and every process it started have exited. It sends
// SIGTERM, as postfix stop does, without that command's one-second
// polling; the master passes it on to its process group. After timeout it
// kills the group.
func stopPostfixMaster(pid int, timeout time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	deadline := time.Now().Add(timeout)
	// The master is a session leader (setsid): its group is its PID.
	for processAlive(pid) || processGroupAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			return fmt.Errorf("master %d %w", pid, errMasterKilled)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
