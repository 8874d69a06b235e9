package lang

import (
	"sort"

	"github.com/mailplan/mailplan/engine/configs"
)

// collectMoves gathers the moved and removed blocks of mod and the modules
// it calls: the root's first, then each child's in call-name order. Their
// addresses stay relative to the module that declares them (the block's
// scope); exec applies them to the state's addresses.
func collectMoves(mod *configs.Module) ([]*configs.Moved, []*configs.Removed) {
	if mod == nil {
		return nil, nil
	}
	moved := append([]*configs.Moved(nil), mod.Moved...)
	removed := append([]*configs.Removed(nil), mod.Removed...)
	names := make([]string, 0, len(mod.Children))
	for n := range mod.Children {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m, r := collectMoves(mod.Children[n])
		moved = append(moved, m...)
		removed = append(removed, r...)
	}
	return moved, removed
}
