package mailbox

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"
	"unicode/utf8"

	"github.com/mailplan/mailplan/resources/transport"
	"github.com/mailplan/mailplan/resources/transport/keep"
)

// Names. A mail store may hold any name its file system allows: newlines,
// tabs, a leading dash, 255 bytes, bytes that are not UTF-8. mailplan
// copies every name byte for byte, except those Dovecot would not show
// and those mailplan reserves; each of these is refused with a message
// naming it (plan summary, Read's log), so that what a plan counts adds up
// to what is there. What Dovecot shows was tried with Dovecot 2.3.19
// (doveadm mailbox list, mailbox status, fetch):
//
//   - A Maildir++ folder (".Name" in a Maildir) whose name is not valid
//     UTF-8 is not listed at all: refused. Every other folder name is
//     listed, with a newline, a tab, a leading "-", 255 bytes, raw UTF-8,
//     or modified UTF-7 that does not decode ("&AOk", "&AGE-": listed as
//     they are): copied.
//   - A file in cur/ or new/ whose name begins with "." is not a message
//     to Dovecot (maildir-sync skips it), nor one whose name holds a
//     newline ("Ignoring a file with #0xa": dovecot-uidlist has one line
//     per message): refused. Tabs, a leading "-", bytes that are not
//     UTF-8 and 255-byte names are messages: copied.
//   - Directories above the Maildirs (the domain's, the users') are paths
//     Dovecot never interprets: copied whatever their names.
//   - A name holding ".mailplan-" (mailplan's temporary files: a later run
//     would remove them as leftovers), and mailplan's own store
//     (.mailplan-snapshots), are refused.
//   - A directory with only one of cur/ and new/ is refused: it is not a
//     complete Maildir. One with both and no tmp/ is copied (tmp/ is made
//     at the destination).

// refuseDir says why the directory name is not copied, with what it holds,
// or "". folder: it is a Maildir++ folder (a "." directory in a Maildir).
func refuseDir(name string, folder bool) string {
	switch {
	case name == keep.Dir:
		return "mailplan's own store of earlier files, never copied"
	case strings.Contains(name, tmpMarker):
		return fmt.Sprintf("its name holds %q, which mailplan reserves for its temporary files; rename it at the source to copy it", tmpMarker)
	case folder && !utf8.ValidString(name):
		return "a folder whose name is not valid UTF-8, which Dovecot does not list; rename it at the source (e.g. to its modified UTF-7 form) to copy it"
	}
	return ""
}

// refuseMessage says why the entry of cur/ or new/ is not copied, or "".
func refuseMessage(e transport.FileInfo) string {
	switch {
	case !e.IsRegular():
		what := "not a regular file"
		switch t := e.Mode.Type(); {
		case t&fs.ModeDir != 0:
			what = "a directory"
		case t&fs.ModeNamedPipe != 0:
			what = "a named pipe"
		case t&fs.ModeSocket != 0:
			what = "a socket"
		case t&fs.ModeDevice != 0:
			what = "a device"
		}
		return what + ", not a message"
	case strings.HasPrefix(e.Name, "."):
		return `Dovecot ignores a file in cur/ or new/ whose name begins with "."; it is not a message`
	case strings.Contains(e.Name, "\n"):
		return "Dovecot ignores a message file whose name holds a newline; rename it at the source to copy it"
	}
	return ""
}

// refusal is one refused name, as the plan and the log show it.
func refusal(p, why string) string { return fmt.Sprintf("%q: %s", p, why) }

// maildirKind tells whether a directory with these entries is a Maildir
// (cur/ and new/; a missing tmp/ is made at the destination), and if not,
// what it lacks to be one when it has one of them ("" when it has none).
func maildirKind(entries []transport.FileInfo) (maildir bool, lacks string) {
	has := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && (e.Name == "cur" || e.Name == "new" || e.Name == "tmp") {
			has[e.Name] = true
		}
	}
	switch {
	case has["cur"] && has["new"]:
		return true, ""
	case has["cur"]:
		return false, "new/"
	case has["new"]:
		return false, "cur/"
	}
	return false, ""
}

// Journal entries name files by path, and encoding/json would replace
// every byte that is not UTF-8 with U+FFFD: a rollback would then look
// for another file. A path that is valid UTF-8 is a JSON string, as it
// always was; any other is {"base64": "…"} of its bytes.

type b64Path struct {
	Base64 []byte `json:"base64"`
}

func pathJSON(p string) json.RawMessage {
	var b []byte
	if utf8.ValidString(p) {
		b, _ = json.Marshal(p)
	} else {
		b, _ = json.Marshal(b64Path{Base64: []byte(p)})
	}
	return b
}

func pathFromJSON(raw json.RawMessage) (string, error) {
	if len(raw) > 0 && raw[0] == '{' {
		var b b64Path
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", err
		}
		return string(b.Base64), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// pathList is a list of paths in a journal entry.
type pathList []string

func (l pathList) MarshalJSON() ([]byte, error) {
	raws := make([]json.RawMessage, len(l))
	for i, p := range l {
		raws[i] = pathJSON(p)
	}
	return json.Marshal(raws)
}

func (l *pathList) UnmarshalJSON(b []byte) error {
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return err
	}
	out := make(pathList, len(raws))
	for i, r := range raws {
		p, err := pathFromJSON(r)
		if err != nil {
			return err
		}
		out[i] = p
	}
	*l = out
	return nil
}

// pathPair is a rename, [from, to].
type pathPair [2]string

func (p pathPair) MarshalJSON() ([]byte, error) { return pathList(p[:]).MarshalJSON() }

func (p *pathPair) UnmarshalJSON(b []byte) error {
	var l pathList
	if err := l.UnmarshalJSON(b); err != nil {
		return err
	}
	if len(l) != 2 {
		return fmt.Errorf("a rename has %d paths, want 2", len(l))
	}
	*p = pathPair{l[0], l[1]}
	return nil
}

func (m metaEntry) MarshalJSON() ([]byte, error) {
	type plain metaEntry
	return json.Marshal(struct {
		plain
		Path json.RawMessage `json:"path"`
	}{plain(m), pathJSON(m.Path)})
}

func (m *metaEntry) UnmarshalJSON(b []byte) error {
	type plain metaEntry
	var v struct {
		plain
		Path json.RawMessage `json:"path"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p, err := pathFromJSON(v.Path)
	if err != nil {
		return err
	}
	*m = metaEntry(v.plain)
	m.Path = p
	return nil
}
