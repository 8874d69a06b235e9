package exec

import (
	"sync"

	"github.com/zclconf/go-cty/cty"

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
	cfg, res cty.Value
	cfgErr   error
	resErr   error
	cfgDone  bool
	resDone  bool
}

// priorConfig is decodeValue(it.prior.Config, ...), decoded once.
func (it *item) priorConfig() (cty.Value, error) {
	pv := it.priorValues()
	pv.mu.Lock()
	defer pv.mu.Unlock()
	pv.reset(it.prior)
	if !pv.cfgDone {
		pv.cfg, pv.cfgErr = decodeValue(it.prior.Config, it.typ.Schema().ImpliedType(), it.prior.Sensitive)
		pv.cfgDone = true
	}
	return pv.cfg, pv.cfgErr
}

// priorResult is decodeValue(it.prior.Result, ...), decoded once.
func (it *item) priorResult() (cty.Value, error) {
	pv := it.priorValues()
	pv.mu.Lock()
	defer pv.mu.Unlock()
	pv.reset(it.prior)
	if !pv.resDone {
		pv.res, pv.resErr = decodeValue(it.prior.Result, it.typ.Schema().ImpliedType(), it.prior.Sensitive)
		pv.resDone = true
	}
	return pv.res, pv.resErr
}

// priorValues is it.priorVals, made on first use. A copy of the item (a
// replan) shares it.
func (it *item) priorValues() *priorValues {
	if it.priorVals == nil {
		it.priorVals = &priorValues{}
	}
	return it.priorVals
}

// reset forgets what was decoded of another record than prior.
func (pv *priorValues) reset(prior *states.Resource) {
	if pv.of != prior {
		pv.of = prior
		pv.cfg, pv.res, pv.cfgErr, pv.resErr = cty.NilVal, cty.NilVal, nil, nil
		pv.cfgDone, pv.resDone = false, false
	}
}
