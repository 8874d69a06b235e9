package local_test

import (
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/mailplan/mailplan/resources/testbed"
	"github.com/mailplan/mailplan/resources/transport/local"
)

func TestHost(t *testing.T) {
	testbed.CheckHost(t, local.New("local", hclog.NewNullLogger()), t.TempDir())
}
