#!/usr/bin/env bash
# make demo: the whole migration of example.com and example.org from an old mail server to a
# new one, on a loopback test bed (mailplan-testbed): sshd, Postfix "old"
# and "new", Dovecot on both, BIND serving the zone. Seeds the old server
# with mail, plans and applies plans/examples/full-migration, shows that new
# mail lands on the new server and that the old mail is there over IMAP
# with the same UIDs, then tears everything down. Needs root (Postfix,
# Dovecot and BIND run as on a server) and the packages of `make deps`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mp="$root/bin/mailplan"
tb="$root/bin/mailplan-testbed"
if [ "$(id -u)" != 0 ]; then
	echo "make demo runs Postfix, Dovecot and BIND on loopback: run it as root (sudo make demo)" >&2
	exit 1
fi
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '\033[2m$ %s\033[0m\n' "$*"; "$@"; }

work="$(mktemp -d /tmp/mailplan-demo.XXXXXX)"
chmod 755 "$work"
bed="$work/bed"
cleanup() {
	"$tb" down -dir "$bed" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

say "Start the test bed (loopback only; zone TTLs of 3 s so that the DNS waits are short)"
run "$tb" up -dir "$bed" -detach -ttl 3
# shellcheck disable=SC1091
. "$bed/testbed.env"
vars="$bed/full-migration.vars.hcl"

dig_mx() { dig +norecurse +short @"$DNS_ADDR" -p "$DNS_PORT" "$DOMAIN" MX; }
# count_mail DIR: the messages in every Maildir under DIR.
count_mail() { find "$1/$DOMAIN" -path '*/new/*' -o -path '*/cur/*' -type f 2>/dev/null | grep -c . || true; }
wait_mail() { # wait_mail DIR N
	for _ in $(seq 100); do
		[ "$(count_mail "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "mail did not arrive in $1" >&2
	return 1
}

say "Seed the old server: three messages for each of $USERS, through its Postfix"
n=0
for u in $USERS; do
	for i in 1 2 3; do
		swaks --silent 2 --server "$OLD_SMTP" --from news@example.org --to "$u@$DOMAIN" \
			--header "Subject: before the move ($u, $i)"
		n=$((n + 1))
	done
done
wait_mail "$OLD_MAILDIR" "$n"
echo "$n messages in the old server's Maildirs"
run "$tb" imap -addr "$OLD_IMAP_ADDR:$OLD_IMAP_PORT" -user alice

say "DNS before the move: MX of $DOMAIN"
dig_mx

cp -r "$root/plans" "$work/plans"
cd "$work/plans/examples/full-migration"
MAILPLAN_VAR_tsig_secret="$(cat "$TSIG_SECRET_FILE")"
export MAILPLAN_VAR_tsig_secret

say "mailplan plan -out=migration.plan"
run "$mp" plan -var-file="$vars" -out=migration.plan

say "mailplan apply migration.plan"
start=$(date +%s)
run "$mp" apply migration.plan
echo "(apply took $(($(date +%s) - start)) s)"

say "DNS after the move: MX of $DOMAIN, and imap.$DOMAIN"
dig_mx
dig +norecurse +short @"$DNS_ADDR" -p "$DNS_PORT" "imap.$DOMAIN" A

say "New mail, sent the way any sending server does: look up the MX, then SMTP"
mx="$(dig_mx | awk '{print $2; exit}')"
ip="$(dig +norecurse +short @"$DNS_ADDR" -p "$DNS_PORT" "$mx" A)"
port="$OLD_PORT"
[ "$ip" = "$NEW_ADDR" ] && port="$NEW_PORT"
echo "MX $mx -> $ip (port $port in the test bed)"
before="$(count_mail "$NEW_MAILDIR")"
swaks --silent 2 --server "$ip:$port" --from friend@example.org --to "alice@$DOMAIN" --header "Subject: after the move"
swaks --silent 2 --server "$ip:$port" --from friend@example.org --to "postmaster@$DOMAIN" --header "Subject: to an alias, after the move"
wait_mail "$NEW_MAILDIR" $((before + 2))
grep -l "Subject: .*after the move" -r "$NEW_MAILDIR/$DOMAIN/alice" | sed 's/^/  delivered on the new server: /'

say "alice's IMAP client, now on the new server: the old messages with the same UIDVALIDITY and UIDs, and the new ones"
run "$tb" imap -addr "$NEW_IMAP_ADDR:$NEW_IMAP_PORT" -user alice

say "The old server: IMAP and Postfix stopped, its queue empty"
if postfix -c "$OLD_CONFIG_DIR" status >/dev/null 2>&1; then echo "old Postfix: running"; else echo "old Postfix: stopped"; fi
if "$tb" imap -addr "$OLD_IMAP_ADDR:$OLD_IMAP_PORT" -user alice >/dev/null 2>&1; then echo "old IMAP: serving"; else echo "old IMAP: stopped"; fi
echo "old queue: $(find "$OLD_QUEUE_DIR"/incoming "$OLD_QUEUE_DIR"/active "$OLD_QUEUE_DIR"/deferred "$OLD_QUEUE_DIR"/hold -type f 2>/dev/null | grep -c . || true) messages"

say "mailplan plan: what is left (the TTLs go back up once transition_hold is over)"
"$mp" plan -var-file="$vars" -detailed-exitcode || true

say "Demo done: tearing the test bed down"
