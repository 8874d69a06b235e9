package transport

// Walk is the queue of names a walk from "/" down to a path takes: the
// path's own names and, put in front of the rest, the names of each link
// target it follows. It counts the path's own names, so that it can tell
// those at or above the root, where a trusted link may be followed, from
// those below it, where none is (see Resolve). Resolve and the local
// transport's openat walk share it.
type Walk struct {
	queue []component
	idx   int // the path's own names taken so far
	nRoot int // how many of the path's own names lead to the root
}

type component struct {
	name string
	orig bool // a component of the path asked for, not of a link's target
}

// NewWalk is the walk of names, the path's own, of which the first nRoot
// are the root's.
func NewWalk(names []string, nRoot int) *Walk {
	w := &Walk{queue: make([]component, len(names)), nRoot: nRoot}
	for i, n := range names {
		w.queue[i] = component{name: n, orig: true}
	}
	return w
}

// Next takes the next name; ok is false when there is none. below
// reports that it is one of the path's own, below the root.
func (w *Walk) Next() (name string, below, ok bool) {
	if len(w.queue) == 0 {
		return "", false, false
	}
	c := w.queue[0]
	w.queue = w.queue[1:]
	if c.orig {
		w.idx++
		below = w.idx > w.nRoot
	}
	return c.name, below, true
}

// Follow puts the names of a link's target in front of the rest.
func (w *Walk) Follow(names []string) {
	more := make([]component, 0, len(names)+len(w.queue))
	for _, n := range names {
		more = append(more, component{name: n})
	}
	w.queue = append(more, w.queue...)
}

// left is how many names are not taken yet.
func (w *Walk) left() int { return len(w.queue) }

// Rest is the names not taken yet.
func (w *Walk) Rest() []string {
	var rest []string
	for _, c := range w.queue {
		rest = append(rest, c.name)
	}
	return rest
}

// skipRoot takes the root's names at once, before any other (the caller
// knows where they lead). It reports whether it did: not when the path
// has fewer names than the root.
func (w *Walk) skipRoot() bool {
	if len(w.queue) < w.nRoot {
		return false
	}
	w.queue, w.idx = w.queue[w.nRoot:], w.nRoot
	return true
}

// atRoot reports whether the names taken lead exactly to the root: the
// root's own, and of the links followed on the way, all of them.
func (w *Walk) atRoot() bool {
	return w.idx == w.nRoot && (len(w.queue) == 0 || w.queue[0].orig)
}
