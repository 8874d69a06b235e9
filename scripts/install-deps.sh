#!/usr/bin/env bash
# Installs the Debian packages mailplan's tests need, when missing: the real
# servers the test bed starts on loopback (sshd; Postfix with its pcre, lmdb
# and cdb map types; BIND's named with tsig-keygen, and dig and nsupdate),
# swaks to send mail, and ip (iproute2), with which the test bed gives lo the
# 127.0.0.x address named listens on; Dovecot's IMAP server and doveadm
# (the destination's IMAP service, and what makes the Maildir corpus's
# dovecot-uidlist files) and rsync (the baseline make bench times
# mailbox_copy against) and GNU time (make bench's wall time and peak
# memory); PostgreSQL's initdb and postgres (the pg state
# backend's tests run a cluster of their own). Needs root (CI runs as root).
set -euo pipefail
need=()
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/sbin/postfix ] || need+=(postfix)
[ -e /usr/lib/postfix/postfix-pcre.so ] || need+=(postfix-pcre)
[ -e /usr/lib/postfix/postfix-lmdb.so ] || need+=(postfix-lmdb)
[ -e /usr/lib/postfix/postfix-cdb.so ] || need+=(postfix-cdb)
command -v swaks >/dev/null 2>&1 || need+=(swaks)
command -v git >/dev/null 2>&1 || need+=(git)
[ -x /usr/sbin/named ] || need+=(bind9)
[ -x /usr/bin/dig ] && [ -x /usr/bin/nsupdate ] || need+=(bind9-dnsutils)
[ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || [ -x /bin/ip ] || need+=(iproute2)
[ -x /usr/sbin/dovecot ] && [ -x /usr/bin/doveadm ] && [ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
[ -x /usr/bin/time ] || need+=(time)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: need root to install: ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Postfix without a system configuration: the test bed runs its own
  # instances with -c DIR.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  # Packages must not start the system's own daemons on wildcard addresses
  # (Postfix, sshd, named, Dovecot, PostgreSQL): the test bed starts its own on
  # loopback.
  policy=/usr/sbin/policy-rc.d
  made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    made_policy=1
  fi
  # Nor make the system's PostgreSQL cluster: the test bed makes its own
  # (initdb in the test's directory).
  if [[ " ${need[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
  [ -z "$made_policy" ] || rm -f "$policy"
fi
mkdir -p /run/sshd 2>/dev/null || true
