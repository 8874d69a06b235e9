package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/engine/states"
	"github.com/mailplan/mailplan/engine/states/statefile"
)

// A crash after journal records were appended, before the state was
// written: the next Read replays them once; a Write folds them in.
func TestJournalReplay(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.json")
	for _, existing := range []bool{false, true} {
		os.Remove(path)
		os.Remove(path + ".journal")
		b := New(path, nil)
		st, err := b.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if existing {
			if err := b.Write(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
		recs := []*states.Record{
			{Op: "begin", Apply: &states.Apply{ID: "x", Status: "running"}},
			{Op: "change", Change: &states.Change{Addr: "file.a", Type: "file", Before: []byte("snap")}},
			{Op: "entry", Index: 0, Entry: []byte("undo-1")},
			{Op: "done", Index: 0, Addr: "file.a", Resource: &states.Resource{Addr: "file.a", Type: "file"}, After: []byte(`{"a":1}`)},
		}
		for _, r := range recs {
			r.Lineage, r.Serial = st.Lineage, st.Serial
			if err := b.Append(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		// A torn last line, as a crash during an append leaves.
		f, _ := os.OpenFile(path+".journal", os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(`{"op":"cha`)
		f.Close()

		b2 := New(path, nil)
		got, err := b2.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Lineage != st.Lineage || got.LastApply == nil || len(got.LastApply.Changes) != 1 ||
			string(got.LastApply.Changes[0].Journal[0]) != "undo-1" || !got.LastApply.Changes[0].Done || got.Resources["file.a"] == nil {
			t.Fatalf("existing=%v: replayed state = %+v", existing, got)
		}
		if err := b2.Write(ctx, got); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path + ".journal"); err != nil || fi.Size() != 0 {
			t.Errorf("journal not truncated after write: %v", err)
		}
		again, err := New(path, nil).Read(ctx)
		if err != nil || len(again.LastApply.Changes) != 1 {
			t.Errorf("existing=%v: records replayed twice: %+v %v", existing, again.LastApply, err)
		}
	}
}

// journalLineage is the lineage of the state file the journal tests start
// from (serial 1).
const journalLineage = "0c5b2f9e-7d1a-4e2b-9f3c-1a2b3c4d5e6f"

// jline encodes one journal line, in journalLineage unless r names one.
func jline(r states.Record) string {
	if r.Lineage == "" {
		r.Lineage = journalLineage
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

// resAt is a record that sets the resource addr, for the state of serial.
func resAt(serial uint64, addr string) string {
	return jline(states.Record{Serial: serial, Op: "resource", Addr: addr, Resource: &states.Resource{Addr: addr, Type: "file"}})
}

func res(addr string) string { return resAt(1, addr) }

// journalSummary is what a test compares of a state after replay.
type journalSummary struct {
	Resources []string
	Status    string
	Changes   int
	Entries   int
	Done      int
}

func summarize(s *states.State) journalSummary {
	var sum journalSummary
	for addr := range s.Resources {
		sum.Resources = append(sum.Resources, addr)
	}
	sort.Strings(sum.Resources)
	if la := s.LastApply; la != nil {
		sum.Status = la.Status
		sum.Changes = len(la.Changes)
		for _, c := range la.Changes {
			sum.Entries += len(c.Journal)
			if c.Done {
				sum.Done++
			}
		}
	}
	return sum
}

// journalFixture is a state file (none when noState) of journalLineage at
// serial 1 and a journal holding journal; its backend logs into log.
type journalFixture struct {
	path string
	log  *bytes.Buffer
	b    *Backend
}

func newJournalFixture(t *testing.T, noState bool, journal string) *journalFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.json")
	if !noState {
		data, err := statefile.Encode(&states.State{Version: states.FormatVersion, Lineage: journalLineage, Serial: 1, Resources: map[string]*states.Resource{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path+".journal", []byte(journal), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &journalFixture{path: path, log: new(bytes.Buffer)}
	f.b = New(path, hclog.New(&hclog.LoggerOptions{Output: f.log, Level: hclog.Warn}))
	return f
}

// checkJournalLines fails unless every line of the journal ends in '\n'
// and decodes: what Append leaves, whatever it found.
func checkJournalLines(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("journal does not end in a newline: %q", data)
	}
	for i, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if _, err := decodeRecord(l); err != nil {
			t.Errorf("journal line %d after Append: %v: %q", i+1, err, l)
		}
	}
}

// Read replays what the journal holds, drops only a torn last line, and
// refuses a journal it cannot read completely, naming the file, line and
// offset. After a successful Read, an Append and a new Read replay
// everything: a record is never glued onto a torn one.
func TestJournalRead(t *testing.T) {
	torn := strings.TrimSuffix(res("b"), "\n")
	torn = torn[:len(torn)/2]
	tests := []struct {
		name    string
		noState bool
		lines   []string // the journal, one element a line
		// wantBad is the line (from 1) of the corrupt record, 0 when
		// Read succeeds; wantCause is part of its error.
		wantBad   int
		wantCause string
		wantWarn  bool // Read warns of a torn record
		want      journalSummary
	}{
		{
			name: "valid",
			lines: []string{
				jline(states.Record{Serial: 1, Op: "begin", Apply: &states.Apply{ID: "x", Status: "running"}}),
				jline(states.Record{Serial: 1, Op: "change", Change: &states.Change{Addr: "file.a", Type: "file", Before: []byte("snap")}}),
				jline(states.Record{Serial: 1, Op: "entry", Index: 0, Entry: []byte("undo-1")}),
				jline(states.Record{Serial: 1, Op: "done", Index: 0, Addr: "file.a", Resource: &states.Resource{Addr: "file.a", Type: "file"}, After: []byte(`{"a":1}`)}),
			},
			want: journalSummary{Resources: []string{"file.a"}, Status: "running", Changes: 1, Entries: 1, Done: 1},
		},
		{
			name: "empty journal",
		},
		{
			name:  "empty lines",
			lines: []string{"\n", res("a"), "\n", " \t\n", res("b"), "\n", "\n"},
			want:  journalSummary{Resources: []string{"a", "b"}},
		},
		{
			name:     "torn last line",
			lines:    []string{res("a"), torn},
			wantWarn: true,
			want:     journalSummary{Resources: []string{"a"}},
		},
		{
			name:     "torn first and only line",
			lines:    []string{torn},
			wantWarn: true,
		},
		{
			name:  "whole last record without its newline",
			lines: []string{res("a"), strings.TrimSuffix(res("b"), "\n")},
			want:  journalSummary{Resources: []string{"a", "b"}},
		},
		{
			name:  "whitespace after the last newline",
			lines: []string{res("a"), "  "},
			want:  journalSummary{Resources: []string{"a"}},
		},
		{
			name:  "records of another lineage or serial are skipped",
			lines: []string{jline(states.Record{Lineage: "other", Serial: 1, Op: "resource", Addr: "x", Resource: &states.Resource{Addr: "x"}}), resAt(7, "y"), res("a")},
			want:  journalSummary{Resources: []string{"a"}},
		},
		{
			name:    "no state file: records of serial 0 are replayed",
			noState: true,
			lines:   []string{resAt(0, "a"), resAt(3, "y"), torn},
			want:    journalSummary{Resources: []string{"a"}}, wantWarn: true,
		},
		{
			name:      "corrupt middle line",
			lines:     []string{res("a"), "garbage\n", res("b"), res("c")},
			wantBad:   2,
			wantCause: "invalid character 'g'",
		},
		{
			name:      "corrupt first line",
			lines:     []string{"\x00\x00\x00\n", res("a")},
			wantBad:   1,
			wantCause: "not a journal record",
		},
		{
			// A complete line was written whole and fsynced before its
			// step began; a crash cannot leave it undecodable, and the
			// step may have been made.
			name:      "undecodable last line that ends in a newline",
			lines:     []string{res("a"), torn + "\n"},
			wantBad:   2,
			wantCause: "not a journal record",
		},
		{
			// What Append did before it repaired a torn tail.
			name:      "record glued onto a torn one",
			lines:     []string{res("a"), torn + res("b"), res("c")},
			wantBad:   2,
			wantCause: "not a journal record",
		},
		{
			name:      "JSON that is not a record",
			lines:     []string{res("a"), "{}\n", res("b")},
			wantBad:   2,
			wantCause: "no lineage or op",
		},
		{
			name:      "null",
			lines:     []string{"null\n"},
			wantBad:   1,
			wantCause: "no lineage or op",
		},
		{
			name:      "unknown op",
			lines:     []string{res("a"), "\n", jline(states.Record{Serial: 1, Op: "frobnicate"}), res("b")},
			wantBad:   3,
			wantCause: `unknown journal record "frobnicate"`,
		},
		{
			name:      "record that Replay rejects",
			lines:     []string{jline(states.Record{Serial: 1, Op: "begin", Apply: &states.Apply{ID: "x", Status: "running"}}), jline(states.Record{Serial: 1, Op: "entry", Index: 3, Entry: []byte("u")})},
			wantBad:   2,
			wantCause: "names change 3",
		},
		{
			name:      "whole last record without its newline that Replay rejects",
			lines:     []string{res("a"), strings.TrimSuffix(jline(states.Record{Serial: 1, Op: "status", Status: "applied"}), "\n")},
			wantBad:   2,
			wantCause: `"status" before "begin"`,
		},
		{
			name:      "no state file: corrupt middle line",
			noState:   true,
			lines:     []string{resAt(0, "a"), "garbage\n", resAt(0, "b")},
			wantBad:   2,
			wantCause: "invalid character 'g'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newJournalFixture(t, tt.noState, strings.Join(tt.lines, ""))
			stateBefore, _ := os.ReadFile(f.path)
			journalBefore, _ := os.ReadFile(f.b.JournalPath())

			got, err := f.b.Read(ctx)
			if warned := strings.Contains(f.log.String(), "torn journal record"); warned != tt.wantWarn {
				t.Errorf("warned of a torn record: %v, want %v; log:\n%s", warned, tt.wantWarn, f.log)
			}
			if tt.wantBad > 0 {
				if err == nil {
					t.Fatalf("Read succeeded: %+v", summarize(got))
				}
				if !errors.Is(err, ErrJournalCorrupt) {
					t.Errorf("errors.Is(err, ErrJournalCorrupt) = false: %v", err)
				}
				var je *JournalError
				if !errors.As(err, &je) {
					t.Fatalf("not a *JournalError: %v", err)
				}
				offset := len(strings.Join(tt.lines[:tt.wantBad-1], ""))
				if je.Line != tt.wantBad || je.Offset != int64(offset) || je.Path != f.b.JournalPath() {
					t.Errorf("error at %s line %d offset %d, want %s line %d offset %d", je.Path, je.Line, je.Offset, f.b.JournalPath(), tt.wantBad, offset)
				}
				msg := err.Error()
				wantIn := []string{
					"journal " + f.b.JournalPath() + " is corrupt",
					fmt.Sprintf("line %d (byte offset %d)", tt.wantBad, offset),
					tt.wantCause,
					"Keep a copy of the journal",
					"then run `mailplan rollback`",
				}
				if tt.noState {
					wantIn = append(wantIn, "There is no state file yet")
				} else {
					wantIn = append(wantIn, "The state file "+f.path+" is intact")
				}
				for _, s := range wantIn {
					if !strings.Contains(msg, s) {
						t.Errorf("error does not say %q:\n%s", s, msg)
					}
				}
				stateAfter, _ := os.ReadFile(f.path)
				journalAfter, _ := os.ReadFile(f.b.JournalPath())
				if !bytes.Equal(stateAfter, stateBefore) || !bytes.Equal(journalAfter, journalBefore) {
					t.Error("a failed Read changed the state file or the journal")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, summarize(got)); diff != "" {
				t.Errorf("replayed (-want +got):\n%s", diff)
			}
			journalAfter, _ := os.ReadFile(f.b.JournalPath())
			if !bytes.Equal(journalAfter, journalBefore) {
				t.Error("Read changed the journal")
			}

			// The next step of the apply, then a crash.
			if err := f.b.Append(ctx, &states.Record{Lineage: got.Lineage, Serial: got.Serial, Op: "resource", Addr: "z", Resource: &states.Resource{Addr: "z"}}); err != nil {
				t.Fatal(err)
			}
			checkJournalLines(t, f.b.JournalPath())
			again, err := New(f.path, nil).Read(ctx)
			if err != nil {
				t.Fatalf("Read after Append: %v", err)
			}
			want := tt.want
			want.Resources = append(append([]string(nil), want.Resources...), "z")
			sort.Strings(want.Resources)
			if diff := cmp.Diff(want, summarize(again)); diff != "" {
				t.Errorf("replayed after Append (-want +got):\n%s", diff)
			}
		})
	}
}

// A crash can cut the journal at any byte. Whatever the cut, Read succeeds
// with exactly the records whose JSON is whole (never an error, never a
// record lost before the cut), warns only of a torn one, and the next
// Append makes a journal that replays completely.
func TestJournalTruncatedAtEveryOffset(t *testing.T) {
	for _, noState := range []bool{false, true} {
		t.Run(fmt.Sprintf("noState=%v", noState), func(t *testing.T) {
			var serial uint64 = 1
			if noState {
				serial = 0
			}
			addrs := []string{"a", "b", "c"}
			var full string
			var ends []int // where each record's JSON ends, before its '\n'
			for _, a := range addrs {
				full += resAt(serial, a)
				ends = append(ends, len(full)-1)
			}
			for cut := 0; cut <= len(full); cut++ {
				whole := 0
				for _, e := range ends {
					if e <= cut {
						whole++
					}
				}
				boundary := cut == 0
				for _, e := range ends {
					boundary = boundary || cut == e || cut == e+1
				}
				f := newJournalFixture(t, noState, full[:cut])
				got, err := f.b.Read(ctx)
				if err != nil {
					t.Fatalf("cut at %d: %v", cut, err)
				}
				want := journalSummary{Resources: addrs[:whole]}
				if whole == 0 {
					want.Resources = nil
				}
				if diff := cmp.Diff(want, summarize(got)); diff != "" {
					t.Errorf("cut at %d: replayed (-want +got):\n%s", cut, diff)
				}
				if warned := strings.Contains(f.log.String(), "torn journal record"); warned == boundary {
					t.Errorf("cut at %d: warned of a torn record: %v; log:\n%s", cut, warned, f.log)
				}
				if err := f.b.Append(ctx, &states.Record{Lineage: got.Lineage, Serial: got.Serial, Op: "resource", Addr: "d", Resource: &states.Resource{Addr: "d"}}); err != nil {
					t.Fatalf("cut at %d: %v", cut, err)
				}
				checkJournalLines(t, f.b.JournalPath())
				again, err := New(f.path, nil).Read(ctx)
				if err != nil {
					t.Fatalf("cut at %d: Read after Append: %v", cut, err)
				}
				want.Resources = append(append([]string(nil), addrs[:whole]...), "d")
				if diff := cmp.Diff(want, summarize(again)); diff != "" {
					t.Errorf("cut at %d: replayed after Append (-want +got):\n%s", cut, diff)
				}
			}
		})
	}
}
