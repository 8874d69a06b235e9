package states

import "errors"

// The errors every backend's Write, Push and Read wrap, so that the engine
// tells them apart with errors.Is whatever the backend.
var (
	// ErrChanged is wrapped by Write's error when the stored state is no
	// longer the one that was read: another mailplan wrote it (without the
	// lock), or it was replaced or removed by hand.
	ErrChanged = errors.New("state changed since it was read")

	// ErrPushRefused is wrapped by Push's error when the pushed state
	// would lose history: another lineage, or an older serial. -force
	// overrides it.
	ErrPushRefused = errors.New("push refused")

	// ErrJournalCorrupt is wrapped by Read's error when the journal has a
	// record that cannot be read or replayed. Read stops there rather than
	// skip it: the records after it may be the undo entries a rollback
	// needs.
	ErrJournalCorrupt = errors.New("journal is corrupt")
)
