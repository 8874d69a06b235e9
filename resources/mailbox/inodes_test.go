package mailbox

import (
	"strings"
	"testing"
)

func TestCheckInodes(t *testing.T) {
	n := func(v uint64) *uint64 { return &v }
	for _, tc := range []struct {
		name string
		sn   snapshot
		want string
	}{
		{"unknown", snapshot{NeedInodes: 1000}, ""},
		{"enough", snapshot{NeedInodes: 64, FreeInodes: n(64)}, ""},
		{"too few", snapshot{NeedInodes: 65, FreeInodes: n(64), Destination: "/srv/mail", DestHost: "new"},
			"needs about 65 inodes (one per message) at /srv/mail on new, and its filesystem has 64 free"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sn.checkInodes()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("checkInodes = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("checkInodes = %v, want %q", err, tc.want)
			}
		})
	}
}
