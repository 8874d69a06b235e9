package transport

import (
	"context"
	"fmt"
	"path"
	"strings"
)

// TempMarker is in the name of every temporary file WriteFile writes
// beside its target: `.NAME.mailplan-tmp-XXXXXXXX`, renamed over NAME once
// complete. A process killed between the two leaves it behind.
const TempMarker = ".mailplan-tmp-"

// IsTempOf reports whether name, an entry of target's directory, is a
// temporary file WriteFile made for target.
func IsTempOf(name, target string) bool {
	return strings.HasPrefix(name, "."+path.Base(target)+TempMarker)
}

// RemoveTemps removes what a killed WriteFile of target left in its
// directory: resources call it before writing target again and when they
// restore it, so that neither a continued apply nor a rollback leaves one.
// A missing directory is not an error.
func RemoveTemps(ctx context.Context, h Host, target string) error {
	dir := path.Dir(target)
	entries, _, err := ListDir(ctx, h, dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsRegular() && IsTempOf(e.Name, target) {
			if err := h.Remove(ctx, path.Join(dir, e.Name)); err != nil {
				return fmt.Errorf("remove leftover %s on %s: %w", path.Join(dir, e.Name), h.Name(), err)
			}
		}
	}
	return nil
}
