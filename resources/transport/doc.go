// Package transport reaches hosts for the resource types. Host is one
// connection: it runs commands (argv lists, never shell strings) and reads
// and writes files, WriteFile atomically (temporary file, fsync, rename,
// fsync of the directory). Its implementations are local (this machine)
// and ssh (SSH with SFTP); pool hands one shared connection per host block
// to every resource of a run through the Getter interface, so that a test
// can give a type any Host.
//
// A host may offer more through optional interfaces, found by type
// assertion: Locker (a host-side lock that a crashed holder cannot leave
// behind), FSStater, InodeStater and FSSyncer (free space and inodes,
// syncfs), AccessChecker (whether the account may use sudo or write where
// a plan writes, asked at plan time), LinkReader and Identity (for link
// checks), Confiner (race-free confinement), DirOpener (a directory opened
// once, its files reached by name), Streamer (many files read in one
// stream) and TreeLister (a whole tree listed with one command).
// Unwrapper lets a wrapper pass them on.
//
// The helpers types call with them keep the rules in one place: Confine
// and Resolve confine writes (and reads) to given roots so that no planted
// symbolic link is followed; HostLock takes an edit lock within
// resource.LockTimeout and names the holder; CheckAccess and
// CheckPlanAccess check access once per plan; FullAfter tells a write that
// failed because the filesystem is full (*NoSpaceError); RemoveTemps
// clears what a killed write left behind.
//
// Its subpackages: dnsclient talks to DNS servers (every miekg/dns import
// lives there); keep keeps earlier file contents on their own host for
// rollback. transport knows no resource type; resource packages use it.
package transport
