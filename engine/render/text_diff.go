package render

type opKind int

const (
	opKeep opKind = iota
	opDelete
	opInsert
	opHidden // n unchanged items not shown
)

// op is one step of a sequence diff: b and a index the old and new
// sequences.
type op struct {
	kind opKind
	b, a int
	n    int
}

// maxDiffCells bounds the LCS table; a larger changed middle is shown as
// all of the old removed and all of the new added.
const maxDiffCells = 4 << 20

// diff returns the steps that turn a sequence of n items into one of m
// items, with deletions before insertions within a changed run.
func diff(n, m int, eq func(i, j int) bool) []op {
	var ops []op
	pre := 0
	for pre < n && pre < m && eq(pre, pre) {
		ops = append(ops, op{kind: opKeep, b: pre, a: pre})
		pre++
	}
	suf := 0
	for suf < n-pre && suf < m-pre && eq(n-1-suf, m-1-suf) {
		suf++
	}
	bn, an := n-pre-suf, m-pre-suf
	if bn*an > maxDiffCells {
		for i := range bn {
			ops = append(ops, op{kind: opDelete, b: pre + i})
		}
		for j := range an {
			ops = append(ops, op{kind: opInsert, a: pre + j})
		}
	} else {
		// lcs[i][j] is the length of the longest common subsequence of the
		// middles from i and j on.
		lcs := make([][]int32, bn+1)
		for i := range lcs {
			lcs[i] = make([]int32, an+1)
		}
		for i := bn - 1; i >= 0; i-- {
			for j := an - 1; j >= 0; j-- {
				if eq(pre+i, pre+j) {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < bn || j < an {
			switch {
			case i < bn && j < an && eq(pre+i, pre+j):
				ops = append(ops, op{kind: opKeep, b: pre + i, a: pre + j})
				i++
				j++
			case j == an || i < bn && lcs[i+1][j] >= lcs[i][j+1]:
				ops = append(ops, op{kind: opDelete, b: pre + i})
				i++
			default:
				ops = append(ops, op{kind: opInsert, a: pre + j})
				j++
			}
		}
	}
	for k := range suf {
		ops = append(ops, op{kind: opKeep, b: n - suf + k, a: m - suf + k})
	}
	return ops
}

// withContext keeps unchanged steps within ctx of a change and replaces
// each longer unchanged run by one opHidden step counting it. A run of one
// is shown, since its "hidden" line would take as much room.
func withContext(ops []op, ctx int) []op {
	near := make([]bool, len(ops))
	for i, o := range ops {
		if o.kind == opKeep {
			continue
		}
		for k := max(0, i-ctx); k <= min(len(ops)-1, i+ctx); k++ {
			near[k] = true
		}
	}
	var out []op
	for i := 0; i < len(ops); {
		if ops[i].kind != opKeep || near[i] {
			out = append(out, ops[i])
			i++
			continue
		}
		j := i
		for j < len(ops) && ops[j].kind == opKeep && !near[j] {
			j++
		}
		if j-i == 1 {
			out = append(out, ops[i])
		} else {
			out = append(out, op{kind: opHidden, n: j - i})
		}
		i = j
	}
	return out
}
