package resource

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestAbsent(t *testing.T) {
	s := &Schema{Attributes: map[string]*Attribute{"path": {Type: cty.String}}}
	resp, err := Absent(s, struct {
		Path string `json:"path"`
	}{"/etc/mailname"})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Current.RawEquals(cty.NullVal(s.ImpliedType())) || string(resp.Snapshot) != `{"path":"/etc/mailname"}` {
		t.Errorf("Absent = %#v, %s", resp.Current, resp.Snapshot)
	}
	if _, err := Absent(s, func() {}); err == nil {
		t.Error("Absent marshalled a func")
	}
}
