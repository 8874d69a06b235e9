package statefile

// layout lays out the compact JSON of a state for people and line-based
// tools: indented as json.MarshalIndent would, except that each resource
// and each change of the last apply stays compact on a line of its own.
// They are nearly all of a state, and indenting them (as mailplan once
// did) made the file twice the size and its decoding twice the work. It
// ends with a newline.
func layout(compact []byte) []byte {
	out := make([]byte, 0, len(compact)+len(compact)/32+256)
	// path names the containers the position is in (object keys; "" for
	// an array element); laid says which of them are laid out, a member
	// to a line.
	var path []string
	var laid []bool
	newline := func(depth int) {
		out = append(out, '\n')
		for range depth {
			out = append(out, ' ', ' ')
		}
	}
	inString, escaped := false, false
	strStart, key := 0, ""
	for i, c := range compact {
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString, strStart = true, i
			out = append(out, c)
		case '{', '[':
			name := key
			key = ""
			path = append(path, name)
			lay := laidOut(path) && i+1 < len(compact) && compact[i+1] != '}' && compact[i+1] != ']'
			laid = append(laid, lay)
			out = append(out, c)
			if lay {
				newline(len(laid))
			}
		case '}', ']':
			if laid[len(laid)-1] {
				newline(len(laid) - 1)
			}
			path, laid = path[:len(path)-1], laid[:len(laid)-1]
			out = append(out, c)
		case ',':
			key = ""
			out = append(out, c)
			if laid[len(laid)-1] {
				newline(len(laid))
			}
		case ':':
			// The string before it was a key (without its quotes).
			key = string(compact[strStart+1 : i-1])
			out = append(out, c)
			if laid[len(laid)-1] {
				out = append(out, ' ')
			}
		default:
			out = append(out, c)
		}
	}
	return append(out, '\n')
}

// laidOut says whether the container at path (its first element is ""
// for the state itself) is laid out a member to a line: everything but
// what a resource record or a change holds, and the values of outputs.
func laidOut(path []string) bool {
	switch len(path) {
	case 1, 2: // the state; its resources, outputs, last apply
		return true
	case 3: // a resource; an output; the last apply's changes and others
		return path[1] != "resources"
	case 4: // a change; a prior output
		return path[1] == "last_apply" && path[2] == "prior_outputs"
	}
	return false
}
