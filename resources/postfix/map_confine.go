package postfix

import (
	"path"

	"github.com/mailplan/mailplan/resources/transport"
)

// tableHost is h with the writes of the table at p confined to its
// directory (transport.Confine): the table, its compiled file, the
// temporary files and the store of earlier tables (.mailplan-snapshots)
// are never reached through a symbolic link there, and the directory
// itself only through a link no one but root could have made. main.cf is
// not reached through it: postconf edits it.
//
// postmap, a command, opens the temporary table by name; between the
// write and postmap a link swapped in for it would be followed. mailplan
// made that file a moment before in a directory that, for a table, only
// root can normally write.
func tableHost(h transport.Host, p string) transport.Host {
	return transport.Confine(h, path.Dir(p))
}
