package resource

import (
	"fmt"

	"github.com/zclconf/go-cty/cty"
)

// AttrError is a problem with one attribute of a resource's configuration.
// The engine turns it into a diagnostic pointing at the attribute's source.
type AttrError struct {
	Path    cty.Path
	Summary string
	Detail  string
}

func (e *AttrError) Error() string {
	return fmt.Sprintf("%s: %s", e.Summary, e.Detail)
}

// Errorf builds an AttrError for the attribute named attr.
func Errorf(attr, summary, detailFormat string, args ...any) *AttrError {
	return &AttrError{Path: cty.GetAttrPath(attr), Summary: summary, Detail: fmt.Sprintf(detailFormat, args...)}
}

// AttrErrors collects several attribute problems; it is an error when not
// empty.
type AttrErrors []*AttrError

func (es AttrErrors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	return fmt.Sprintf("%s (and %d more problems)", es[0].Error(), len(es)-1)
}

// Err returns nil when es is empty, else es.
func (es AttrErrors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
