package postfix

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAdditionWithout: what a map's snapshot and journal record of a
// parameter that other maps of the process added to: the parameter
// without their entries, exactly as it was (set or not, its line) when
// the map's own entry is not among them.
func TestAdditionWithout(t *testing.T) {
	const a, b, x = "texthash:/a", "texthash:/b", "hash:/x"
	unset := param{Name: "transport_maps"}
	virtual := param{Name: "virtual_alias_maps", Default: "$virtual_maps"}
	set := param{Name: "transport_maps", Set: true, Value: x, Raw: "transport_maps =\n    " + x + "\n"}
	explicit := func(base param, v string) param { return param{Name: base.Name, Set: true, Value: v} }
	tests := []struct {
		name  string
		base  param
		added []string
		now   param  // the parameter as read
		own   string // the map looking at it
		want  param
		kept  bool // whether the addition is still known afterwards
	}{
		{"nothing added", unset, nil, explicit(unset, a), a, explicit(unset, a), false},
		{"only its own entry", unset, []string{a}, explicit(unset, a), a, explicit(unset, a), true},
		{"the other's entry, unset", unset, []string{a}, explicit(unset, a), b, unset, true},
		{"the other's entry, default $virtual_maps", virtual, []string{a}, explicit(virtual, a+", $virtual_maps"), b, virtual, true},
		{"the other's entry, set", set, []string{a}, explicit(set, a+", "+x), b, set, true},
		{"both, own first", unset, []string{a, b}, explicit(unset, a+", "+b), a, explicit(unset, a), true},
		{"both, own last", set, []string{a, b}, explicit(set, a+", "+x+", "+b), b, explicit(set, x+", "+b), true},
		{"the other's entry taken out since", unset, []string{a, b}, explicit(unset, b), b, explicit(unset, b), true},
		{"changed by hand since", unset, []string{a}, explicit(unset, a+", hash:/hand"), b, explicit(unset, a+", hash:/hand"), false},
		{"all taken out", set, []string{a}, set, b, set, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &instanceEdits{added: map[string]*addition{}}
			for _, entry := range tt.added {
				e.add(tt.base, entry)
			}
			got := e.addition(tt.now).without(tt.now, tt.own)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("without (-want +got):\n%s", diff)
			}
			if kept := e.added[tt.now.Name] != nil; kept != tt.kept {
				t.Errorf("addition still known: %v, want %v", kept, tt.kept)
			}
		})
	}
}

// TestAdditionRemove: the last restore forgets the addition.
func TestAdditionRemove(t *testing.T) {
	e := &instanceEdits{added: map[string]*addition{}}
	base := param{Name: "transport_maps"}
	e.add(base, "texthash:/a")
	e.add(base, "texthash:/b")
	e.remove("transport_maps", "texthash:/a")
	if e.added["transport_maps"] == nil {
		t.Fatal("forgot the addition with texthash:/b still in it")
	}
	e.remove("transport_maps", "texthash:/b")
	if a := e.added["transport_maps"]; a != nil {
		t.Errorf("still known after both restores: %+v", a)
	}
}
