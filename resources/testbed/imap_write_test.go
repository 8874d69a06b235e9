package testbed

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseUIDSet(t *testing.T) {
	for _, tt := range []struct {
		name, set string
		want      []uint32
	}{
		{"one", "7", []uint32{7}},
		{"list", "3,9,4", []uint32{3, 9, 4}},
		{"range", "3:5", []uint32{3, 4, 5}},
		{"reversed range", "5:3", []uint32{3, 4, 5}},
		{"mixed", "1,3:4,10", []uint32{1, 3, 4, 10}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUIDSet(tt.set)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseUIDSet(%q) = %v, %v; want %v", tt.set, got, err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "a", "1:", "1,,2", "*"} {
		if got, err := parseUIDSet(bad); err == nil {
			t.Errorf("parseUIDSet(%q) = %v, want an error", bad, got)
		}
	}
}

// TestIMAPClientChanges: flags, a move and a deletion made with
// IMAPClient are in Dovecot's view and in the Maildir files as soon as
// each call returns.
func TestIMAPClientChanges(t *testing.T) {
	if err := CheckDovecotAvailable(); err != nil {
		skipOrFatal(t, err)
	}
	uid, gid, err := lookupIDs(mailboxUser)
	if err != nil {
		t.Fatal(err)
	}
	c := MakeCorpus(t, CorpusOptions{Messages: 120, Seed: 5, MaxSize: 64 << 10, Owner: uid, Group: gid})
	d := Dovecot(t, DovecotOptions{MailRoot: c.Root})
	before := d.IMAPSelect(t, "alice", "INBOX")
	if len(before.Messages) < 4 {
		t.Fatalf("alice's INBOX has %d messages, want at least 4", len(before.Messages))
	}
	flagged, moved, deleted := before.Messages[0], before.Messages[1], before.Messages[2]

	cl, err := IMAPLogin(d.IMAPAddr(), "alice", d.Password)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Create("Zero Loss"); err != nil {
		t.Fatal(err)
	}
	if err := cl.Create("Zero Loss"); err != nil {
		t.Errorf("CREATE of an existing mailbox: %v", err)
	}
	if err := cl.Select("INBOX"); err != nil {
		t.Fatal(err)
	}
	if err := cl.AddFlags([]uint32{flagged.UID}, `\Flagged`, `\Seen`); err != nil {
		t.Fatal(err)
	}
	to, err := cl.Move([]uint32{moved.UID}, "Zero Loss")
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Delete([]uint32{deleted.UID}); err != nil {
		t.Fatal(err)
	}
	if err := cl.Delete([]uint32{deleted.UID}); err == nil {
		t.Error("deleting a message twice: no error")
	}
	if _, err := cl.Move([]uint32{deleted.UID}, "Zero Loss"); err == nil {
		t.Error("moving a deleted message: no error")
	}
	if err := cl.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	// On disk, without another IMAP session: the flags in the file
	// name, the deleted message's file gone.
	inbox := d.Maildir("alice")
	files := map[string]string{} // base name -> file name
	for _, sub := range []string{"cur", "new"} {
		es, err := os.ReadDir(filepath.Join(inbox, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			base, _, _ := strings.Cut(e.Name(), ":2,")
			files[base] = e.Name()
		}
	}
	if f := files[flagged.GUID]; !strings.HasSuffix(f, ":2,FS") {
		t.Errorf("flagged message on disk: %q, want the flags FS", f)
	}
	for _, gone := range []IMAPMessage{moved, deleted} {
		if f, ok := files[gone.GUID]; ok {
			t.Errorf("%s still in INBOX on disk: %s", gone.GUID, f)
		}
	}

	after := d.IMAPSelect(t, "alice", "INBOX")
	want := map[uint32]string{}
	for _, m := range before.Messages {
		want[m.UID] = m.Flags
	}
	want[flagged.UID] = normFlags(append(strings.Fields(flagged.Flags), `\Flagged`, `\Seen`))
	delete(want, moved.UID)
	delete(want, deleted.UID)
	got := map[uint32]string{}
	for _, m := range after.Messages {
		got[m.UID] = m.Flags
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("INBOX after the changes (UID -> flags):\n%v\nwant\n%v", got, want)
	}
	folder := d.IMAPSelect(t, "alice", "Zero Loss")
	if len(folder.Messages) != 1 || folder.Messages[0].UID != to[0] {
		t.Errorf("Zero Loss holds %+v, want one message of UID %v", folder.Messages, to)
	}
}
