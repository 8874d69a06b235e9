package resource

import "github.com/zclconf/go-cty/cty"

// StateKept is implemented by types whose object may leave nothing on a
// host that Read could find: a command that ran once (newaliases, a
// resync) is done, but nothing on the host says so. For such a
// configuration Read returns a null Current, meaning "nothing seen", not
// "missing", and the engine takes the state's record as the object when
// the state has one:
//
//   - Plan gets the state's Result as Current (so what ran in an earlier
//     apply is no change), and a read again at apply time does the same;
//   - destroy, and the removal of the old object of a replace, give
//     Restore the state's Private (RestoreRequest.Private), which says
//     what Apply did, since there is no journal left by then.
//
// A type that can observe the object for a configuration (a command with
// a check) returns false and is read like any other.
type StateKept interface {
	// KeptInState reports whether only the state can tell that the
	// object of config exists.
	KeptInState(config cty.Value) bool
}
