package local_test

import (
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/resources/transport/local"
	"github.com/mailplan/mailplan/resources/transport/transporttest"
)

func TestHost(t *testing.T) {
	transporttest.CheckHost(t, local.New("local", hclog.NewNullLogger()), t.TempDir())
}

func TestStatFSSyncFS(t *testing.T) {
	h := local.New("local", hclog.NewNullLogger())
	dir := t.TempDir()
	if free, err := h.StatFS(t.Context(), dir); err != nil || free == 0 {
		t.Errorf("StatFS = %d, %v", free, err)
	}
	if err := h.SyncFS(t.Context(), dir); err != nil {
		t.Errorf("SyncFS: %v", err)
	}
}
