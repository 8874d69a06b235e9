// Package service is the `service_state` resource type: whether one
// service on a host (postfix, dovecot, …) is running or stopped.
//
// A service is driven through one of three managers: systemd
// (`systemctl start|stop|is-active`), SysV init (`service NAME
// start|stop|status`), or three argv lists the user gives (manager =
// "command"), for hosts with neither or for several instances of one daemon
// (e.g. `postfix -c /etc/postfix-out start`). When the configuration names
// no manager it is detected on the host at Read and Plan time: systemd when
// /run/systemd/system is a directory (the test sd_booted(3) makes), else
// SysV when /etc/init.d/NAME exists and `service` is on the PATH.
//
// The status command decides the state: exit 0 is running, any other exit
// is stopped, which is what systemctl is-active, LSB init scripts and
// `postfix status` all report. Apply starts or stops the service and then
// polls the status until it agrees (about 30 s at most), because start
// commands such as `postfix start` return before the daemon is up. The
// snapshot is the state and manager seen at Read; rollback and destroy put
// that state back, and do nothing when it is already there. Nothing is
// journalled: starting or stopping again is the whole undo.
//
// The package does not manage whether a service starts at boot (systemctl
// enable), reloads, or unit files; nor does it import any other resource
// package.
package service
