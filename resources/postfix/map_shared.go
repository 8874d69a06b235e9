package postfix

import (
	"maps"
	"slices"
)

// Several maps may add themselves to one parameter, and the engine applies
// them in parallel: which of them edits main.cf first is a matter of
// timing, and a rollback restores them in the order their changes were
// journalled as started, a destroy in any order. A map's own view of the
// parameter before its edit (the journal entry, the snapshot) may
// therefore hold another map's addition, or a line that only the other
// map's edit made explicit (`transport_maps = hash:…` where main.cf set
// nothing): putting that view back would bring back the other map's
// entry, or leave `transport_maps =` behind once both are gone.
//
// So each instance remembers, under its edit lock, what the maps of this
// process added to each parameter and the parameter's state before the
// first of them (an addition). A map's snapshot and journal entry record
// that state — the parameter without the other maps' additions — as what
// its restore puts back once it is the last of them; until then its
// restore takes out only its own entry. The memory lives as long as the
// process: maps applied by earlier runs are part of what the parameter
// was.

// addition is what maps of this process added to one parameter.
type addition struct {
	// base is the parameter before the first of them, with its line.
	base param
	// entries are the TYPE:PATH they added and no restore took out yet.
	entries map[string]bool
}

// addition returns what maps of this process added to p's parameter, or
// nil. What it knew is forgotten when p is not base plus entries it added
// (someone else changed the parameter since); entries p no longer lists
// are dropped. The caller holds the edit lock.
func (e *instanceEdits) addition(p param) *addition {
	a := e.added[p.Name]
	if a == nil {
		return nil
	}
	v := p.effective()
	for _, entry := range slices.Sorted(maps.Keys(a.entries)) {
		if !listsExactly(v, entry) {
			delete(a.entries, entry)
			continue
		}
		v = removeEntry(v, entry)
	}
	if len(a.entries) == 0 || !sameList(v, a.base.effective()) {
		delete(e.added, p.Name)
		return nil
	}
	return a
}

// add notes that a map of this process added entry to the parameter,
// whose state before any such addition was base. The caller holds the
// edit lock and has called addition (which forgets what no longer holds).
func (e *instanceEdits) add(base param, entry string) {
	a := e.added[base.Name]
	if a == nil {
		a = &addition{base: base, entries: map[string]bool{}}
		e.added[base.Name] = a
	}
	a.entries[entry] = true
}

// remove notes that entry was taken out of the parameter name again.
// The caller holds the edit lock.
func (e *instanceEdits) remove(name, entry string) {
	a := e.added[name]
	if a == nil {
		return
	}
	delete(a.entries, entry)
	if len(a.entries) == 0 {
		delete(e.added, name)
	}
}

// without returns the parameter p as the map whose entry is own sees it:
// without what the other maps of this process added. That is the base,
// exactly, when own is not one of the additions; the base plus own, as
// own's apply set it, when it is. p itself when there is nothing to take
// out. a may be nil.
func (a *addition) without(p param, own string) param {
	if a == nil {
		return p
	}
	v, others := p.effective(), false
	for _, entry := range slices.Sorted(maps.Keys(a.entries)) {
		if entry != own && listsExactly(v, entry) {
			v, others = removeEntry(v, entry), true
		}
	}
	switch {
	case !others:
		return p
	case a.entries[own] && listsExactly(v, own):
		return param{Name: p.Name, Set: true, Value: v, Default: p.Default}
	default:
		return a.base
	}
}

// listsExactly reports whether the list value v has entry as an element
// (not its proxy: form, which removeEntry keeps).
func listsExactly(v, entry string) bool {
	for _, e := range splitList(v) {
		if e == entry {
			return true
		}
	}
	return false
}
