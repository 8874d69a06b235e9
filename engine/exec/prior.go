package exec

import (
	"bytes"
	"encoding/json"
	"sync"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/mailplan/mailplan/engine/resource"
	"github.com/mailplan/mailplan/engine/states"
)

// priorValues are an instance's recorded configuration and result,
// decoded from the state's JSON once and kept: a plan needs them in
// several steps (forceNewPaths, planByType, planDelete, keptCurrent), and
// decoding them again each time was a quarter of a no-change plan. cty
// values are immutable, so handing out the same one is safe.
type priorValues struct {
	mu sync.Mutex
	// of is the record decoded; a new one (a takeover, a replan) decodes
	// again.
	of       *states.Resource
	cfg, res decoded
}

// decoded is one recorded value, once decodePrior has run.
type decoded struct {
	v    cty.Value
	err  error
	done bool
	// live: v is the live value it was compared with (sameAsRecorded).
	live bool
}

// priorConfig is decodeValue(it.prior.Config, ...), decoded once.
func (it *item) priorConfig() (cty.Value, error) {
	pv := it.priorValues()
	return it.decodePrior(pv, &pv.cfg, it.config, it.prior.Config)
}

// priorResult is decodeValue(it.prior.Result, ...), decoded once.
func (it *item) priorResult() (cty.Value, error) {
	pv := it.priorValues()
	return it.decodePrior(pv, &pv.res, it.current, it.prior.Result)
}

// decodePrior returns the value of raw, one of it.prior's recorded
// values, kept in d, one of pv's slots: live when it is what decoding raw
// would give (sameAsRecorded), else raw decoded.
func (it *item) decodePrior(pv *priorValues, d *decoded, live cty.Value, raw json.RawMessage) (cty.Value, error) {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	pv.reset(it.prior)
	if !d.done {
		t := it.typ.Schema().ImpliedType()
		if v, ok := sameAsRecorded(live, raw, it.prior.Sensitive, t); ok {
			d.v, d.live = v, true
		} else {
			d.v, d.err = decodeValue(raw, t, it.prior.Sensitive)
		}
		d.done = true
	}
	return d.v, d.err
}

// priorConfigIsLive reports whether priorConfig returned the live
// configuration itself: the record is the live configuration, with no
// secret left out of it.
func (it *item) priorConfigIsLive() bool {
	pv := it.priorValues()
	pv.mu.Lock()
	defer pv.mu.Unlock()
	return pv.of == it.prior && pv.cfg.done && pv.cfg.live
}

// priorValues is it.priorVals, made on first use. A copy of the item (a
// replan) shares it.
func (it *item) priorValues() *priorValues {
	if it.priorVals == nil {
		it.priorVals = &priorValues{}
	}
	return it.priorVals
}

// sameAsRecorded returns v, true when v is what decoding raw would give:
// nothing in it is marked or recorded as sensitive, and its JSON is raw
// byte for byte. In a plan with no change the live configuration and what
// Read saw are the recorded ones, and encoding a value is several times
// cheaper than decoding it.
func sameAsRecorded(v cty.Value, raw json.RawMessage, sensitive []string, t cty.Type) (cty.Value, bool) {
	if len(raw) == 0 || len(sensitive) > 0 || v == cty.NilVal || v.IsNull() || !v.Type().Equals(t) {
		return cty.NilVal, false
	}
	buf := jsonBufs.Get().(*[]byte)
	b, ok := appendJSON((*buf)[:0], v, t, false)
	same := ok && bytes.Equal(b, raw)
	putJSONBuf(buf, b)
	if ok {
		if same {
			return v, true
		}
		return cty.NilVal, false
	}
	// A value appendJSON leaves to ctyjson (or an unknown or marked one,
	// which ctyjson refuses).
	if !v.IsWhollyKnown() || resource.HasMarks(v) {
		return cty.NilVal, false
	}
	b, err := ctyjson.Marshal(v, t)
	if err != nil || !bytes.Equal(b, raw) {
		return cty.NilVal, false
	}
	return v, true
}

// jsonBufs are the buffers appendJSON writes into, to compare and drop.
var jsonBufs = sync.Pool{New: func() any { return new([]byte) }}

// putJSONBuf gives buf back to jsonBufs, holding b (what was written into
// it), unless b is large: one big value must not keep its buffer alive.
func putJSONBuf(buf *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*buf = b
	}
	jsonBufs.Put(buf)
}

// reset forgets what was decoded of another record than prior.
func (pv *priorValues) reset(prior *states.Resource) {
	if pv.of != prior {
		pv.of = prior
		pv.cfg, pv.res = decoded{}, decoded{}
	}
}
