// Package transport reaches hosts: it runs commands (argv lists, never shell
// strings) and reads and writes files, on this machine (local/) or over SSH
// and SFTP (ssh/). A Pool shares one connection per host between every
// resource of a run. Beside the Host interface it has optional host
// abilities (Locker, FSStater, InodeStater, AccessChecker: whether the
// SSH user may use sudo or write where a plan writes, asked at plan time)
// and the helpers types call with them (HostLock, Confine, CheckPlanAccess).
//
// It knows nothing of resource types; resource packages use it.
package transport
