package testbed

import (
	"fmt"
	"strings"

	"github.com/mailplan/mailplan/engine/resource"
)

// ShadowCopyVars is the HCL of the variables of plans/examples/shadow-copy
// for test bed servers: oldPF reached through the SSH host h (an SSHD's
// Host), newPF the server to copy to, and domains, each with no extra
// recipients.
func ShadowCopyVars(h resource.Host, oldPF, newPF *PostfixInstance, domains ...string) string {
	var ds strings.Builder
	for _, d := range domains {
		fmt.Fprintf(&ds, "  %q = []\n", d)
	}
	return fmt.Sprintf(`old_address   = %q
old_port      = %d
ssh_user      = %q
identity_file = %q
known_hosts   = %q
new_server    = "[%s]:%d"
config_dir    = %q
domains = {
%s}
`, h.Address, h.Port, h.User, h.IdentityFile, h.KnownHosts, newPF.Addr, newPF.Port, oldPF.ConfigDir, ds.String())
}
