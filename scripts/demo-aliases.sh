#!/usr/bin/env bash
# make demo: the aliases-sync example against sandbox directories on this
# machine. Shows plan, apply, a no-op re-plan, a saved plan refused as stale,
# rollback and destroy, and leaves nothing behind.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
mp="$root/bin/mailplan"
sandbox="$(mktemp -d /tmp/mailplan-demo.XXXXXX)"
trap 'rm -rf "$sandbox"' EXIT

mkdir -p "$sandbox/old/etc" "$sandbox/new/etc"
printf 'postmaster: root\nroot: oldadmin@example.com\n' > "$sandbox/old/etc/aliases"
cp -r "$root/plans/examples/aliases-sync" "$sandbox/plan"
vars=(-var old_address= -var new_address= -var "old_root=$sandbox/old" -var "new_root=$sandbox/new" -var 'newaliases_command=["true"]')
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cd "$sandbox/plan"
say "mailplan validate"
"$mp" validate
say "mailplan plan -out=aliases.plan"
"$mp" plan "${vars[@]}" -out=aliases.plan
say "mailplan apply aliases.plan"
"$mp" apply aliases.plan
say "both servers now have the same /etc/aliases"
diff "$sandbox/old/etc/aliases" "$sandbox/new/etc/aliases" && echo "identical"
say "mailplan plan (nothing to do)"
"$mp" plan "${vars[@]}"
say "mailplan apply aliases.plan again: refused, the plan is stale"
"$mp" apply aliases.plan || true
say "mailplan rollback"
"$mp" rollback -auto-approve
cat "$sandbox/old/etc/aliases"
test ! -e "$sandbox/new/etc/aliases" && echo "new/etc/aliases removed again"
say "mailplan apply, then mailplan destroy"
"$mp" apply "${vars[@]}" -auto-approve >/dev/null
"$mp" destroy "${vars[@]}" -auto-approve
cat "$sandbox/old/etc/aliases"
say "demo done"
