package resource

import (
	"math/big"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// hostFast decodes what it takes exactly as the general path does, and
// leaves everything else to it.
func TestHostFastSameAsGeneral(t *testing.T) {
	full := map[string]cty.Value{
		"name": cty.StringVal("old"), "transport": cty.StringVal("ssh"), "address": cty.StringVal("10.0.0.1"),
		"port": cty.NumberIntVal(2222), "user": cty.StringVal("root"), "identity_file": cty.StringVal("/k"),
		"known_hosts": cty.StringVal("/kh"), "sudo": cty.True,
	}
	nulls := map[string]cty.Value{}
	for name, at := range HostType.AttributeTypes() {
		nulls[name] = cty.NullVal(at)
	}
	withExtra := map[string]cty.Value{"extra": cty.StringVal("x")}
	for k, v := range full {
		withExtra[k] = v
	}
	for name, v := range map[string]cty.Value{"full": cty.ObjectVal(full), "nulls": cty.ObjectVal(nulls), "extra": cty.ObjectVal(withExtra)} {
		fast, ok := hostFast(v)
		if !ok {
			t.Fatalf("%s: not taken", name)
		}
		var gen Host
		if err := decodeRef(v, HostType, "host", &gen); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fast != gen {
			t.Errorf("%s: fast %+v, general %+v", name, fast, gen)
		}
	}
	frac := map[string]cty.Value{}
	for k, v := range full {
		frac[k] = v
	}
	frac["port"] = cty.NumberVal(big.NewFloat(22.5))
	marked := map[string]cty.Value{}
	for k, v := range full {
		marked[k] = v
	}
	marked["user"] = marked["user"].Mark("sensitive")
	for name, v := range map[string]cty.Value{"fractional port": cty.ObjectVal(frac), "marked": cty.ObjectVal(marked), "null": cty.NullVal(HostType)} {
		if _, ok := hostFast(v); ok {
			t.Errorf("%s: taken", name)
		}
	}
	if _, err := HostFromValue(cty.ObjectVal(frac)); err == nil {
		t.Error("fractional port: no error")
	}
}
