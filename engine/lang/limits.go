package lang

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// MaxInstances is how many instances one resource or module block may have
// through count or for_each.
const MaxInstances = 100_000

// MaxTotalInstances is how many resource instances a whole configuration
// may have, counting every instance of every module. An instance costs a
// few kilobytes from evaluation to plan (its configuration, address, state
// record and plan entry), so this keeps a run within a few gigabytes at
// worst.
const MaxTotalInstances = 200_000

// totalInstancesLimit is MaxTotalInstances, lowered by tests.
var totalInstancesLimit = MaxTotalInstances

// tooMany is the diagnostic for a count or for_each over MaxInstances.
func tooMany(meta string, n int64, rng hcl.Range) hcl.Diagnostics {
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Too many instances",
		Detail:   fmt.Sprintf("This %s gives %d instances; a block may have at most %d. Nothing was changed. Split the work into several blocks or runs.", meta, n, MaxInstances),
		Subject:  &rng,
	}}
}

// tooManyCount is tooMany for a count, n -1 for one too large to say.
func tooManyCount(n int64, rng hcl.Range) hcl.Diagnostics {
	if n < 0 {
		d := tooMany("count", 0, rng)
		d[0].Detail = fmt.Sprintf("This count is larger than %d, the most instances a block may have. Nothing was changed. Split the work into several blocks or runs.", MaxInstances)
		return d
	}
	return tooMany("count", n, rng)
}

// countInstances adds n resource instances to the total and reports when
// it goes over MaxTotalInstances; rng is the block's.
func (e *evaluator) countInstances(n int, addr string, rng hcl.Range) hcl.Diagnostics {
	e.instances += n
	if e.instances <= totalInstancesLimit {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Too many instances",
		Detail:   fmt.Sprintf("With the %d instances of %s, the configuration has more than %d resource instances in all, the most mailplan handles in one run. Nothing was changed. Split the work into several plan directories or runs.", n, addr, totalInstancesLimit),
		Subject:  &rng,
	}}
}
