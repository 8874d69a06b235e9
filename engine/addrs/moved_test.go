package addrs

import "testing"

func TestMoveApply(t *testing.T) {
	mustTarget := func(s string) Target {
		tg, d := ParseTarget(s)
		if d.HasErrors() {
			t.Fatalf("%s: %s", s, d.Error())
		}
		return tg
	}
	tests := []struct {
		name     string
		scope    []string
		from, to string
		kind     MoveKind
		addr     string
		want     string // "" when the move does not apply
	}{
		{"resource", nil, "file.a", "file.b", MoveResource, "file.a", "file.b"},
		{"resource keeps key", nil, "file.a", "file.b", MoveResource, `file.a["k"]`, `file.b["k"]`},
		{"resource other", nil, "file.a", "file.b", MoveResource, "file.c", ""},
		{"resource not in module", nil, "file.a", "file.b", MoveResource, "module.m.file.a", ""},
		{"instance key", nil, "file.a[0]", `file.a["x"]`, MoveInstance, "file.a[0]", `file.a["x"]`},
		{"instance other key", nil, "file.a[0]", `file.a["x"]`, MoveInstance, "file.a[1]", ""},
		{"add count", nil, "file.a", "file.a[0]", MoveInstance, "file.a", "file.a[0]"},
		{"add count, keyed already", nil, "file.a", "file.a[0]", MoveInstance, "file.a[1]", ""},
		{"drop count", nil, "file.a[0]", "file.b", MoveInstance, "file.a[0]", "file.b"},
		{"module", nil, "module.a", "module.b", MoveModule, `module.a["k"].file.x`, `module.b["k"].file.x`},
		{"module nested", nil, "module.a", "module.b", MoveModule, "module.a.module.c.file.x", "module.b.module.c.file.x"},
		{"module instance", nil, "module.a", "module.a[0]", MoveModuleInstance, "module.a.file.x", "module.a[0].file.x"},
		{"module instance other", nil, "module.a", "module.a[0]", MoveModuleInstance, "module.a[1].file.x", ""},
		{"into module", nil, "file.a", "module.m.file.a", MoveResource, "file.a", "module.m.file.a"},
		{"scoped", []string{"m"}, "file.a", "file.b", MoveResource, `module.m["x"].file.a`, `module.m["x"].file.b`},
		{"scoped, other module", []string{"m"}, "file.a", "file.b", MoveResource, "module.n.file.a", ""},
		{"scoped, root", []string{"m"}, "file.a", "file.b", MoveResource, "file.a", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, why := NewMove(tt.scope, mustTarget(tt.from), mustTarget(tt.to))
			if why != "" {
				t.Fatal(why)
			}
			if m.Kind != tt.kind {
				t.Errorf("kind %s, want %s", m.Kind, tt.kind)
			}
			ri, d := ParseResourceInstance(tt.addr)
			if d.HasErrors() {
				t.Fatal(d.Error())
			}
			got, ok := m.Apply(ri)
			gs := ""
			if ok {
				gs = got.String()
			}
			if gs != tt.want {
				t.Errorf("Apply(%s) = %q, want %q", tt.addr, gs, tt.want)
			}
		})
	}
}

func TestNewMoveInvalid(t *testing.T) {
	for _, tt := range []struct{ from, to string }{
		{"file.a", "module.b"},
		{"module.a", "file.b"},
		{"file.a", "other.a"},
		{"file.a", "file.a"},
		{"module.a[0]", "module.a[0]"},
	} {
		f, _ := ParseTarget(tt.from)
		to, _ := ParseTarget(tt.to)
		if _, why := NewMove(nil, f, to); why == "" {
			t.Errorf("%s → %s accepted", tt.from, tt.to)
		}
	}
}

func TestRemoves(t *testing.T) {
	for _, tt := range []struct {
		scope []string
		from  string
		addr  string
		want  bool
	}{
		{nil, "file.a", "file.a", true},
		{nil, "file.a", `file.a["k"]`, true},
		{nil, "file.a", "file.b", false},
		{nil, "file.a", "module.m.file.a", false},
		{nil, "module.m", `module.m["x"].file.a`, true},
		{nil, "module.m", "module.m.module.n.file.a", true},
		{nil, "module.m", "module.n.file.a", false},
		{[]string{"m"}, "file.a", "module.m[1].file.a", true},
	} {
		f, _ := ParseTarget(tt.from)
		ri, _ := ParseResourceInstance(tt.addr)
		if got := Removes(tt.scope, f, ri); got != tt.want {
			t.Errorf("Removes(%v, %s, %s) = %v", tt.scope, tt.from, tt.addr, got)
		}
	}
}
