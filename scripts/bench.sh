#!/usr/bin/env bash
# Engine bench: every phase (plan create, apply create, plan no-op,
# destroy) of N `file` resources over the local transport, next to
# Terraform's built-in terraform_data in the same run, interleaved phase by
# phase so that other load on the machine hits both alike. Prints wall time
# (GNU time), peak RSS, KB per resource and the terraform/mailplan ratios.
#
# Environment: N resources (default 1000); MP=path to a prebuilt mailplan
# (default: built from this checkout); TF=0 leaves Terraform out (default
# 1: Terraform must be on the PATH). Terraform runs with CHECKPOINT_DISABLE=1.
set -euo pipefail
N="${N:-1000}"
TF="${TF:-1}"
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$TF" = 1 ] && ! command -v terraform >/dev/null 2>&1; then
  echo "bench: terraform is not on the PATH: install it, or run with TF=0 for mailplan's figures only" >&2
  exit 1
fi
work="$(mktemp -d /tmp/mailplan-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
if [ -n "${MP:-}" ]; then cp "$MP" "$work/mailplan"; else (cd "$root" && go build -o "$work/mailplan" ./cmd/mailplan); fi
mkdir -p "$work/mp" "$work/data" "$work/tf"
cat > "$work/mp/main.mp.hcl" <<HCL
host "here" {
  transport = "local"
}
resource "file" "f" {
  count   = $N
  host    = host.here
  path    = "$work/data/f\${count.index}"
  content = "file \${count.index}\n"
}
HCL
cat > "$work/tf/main.tf" <<HCL
resource "terraform_data" "f" {
  count = $N
  input = "file \${count.index}\n"
}
HCL
export CHECKPOINT_DISABLE=1
if [ "$TF" = 1 ]; then (cd "$work/tf" && terraform init -input=false >/dev/null); fi
declare -A S K
measure() { # key, dir, command...
  local key="$1" dir="$2"; shift 2
  (cd "$dir" && /usr/bin/time -o "$work/t" -f '%e %M' "$@" >/dev/null 2>"$work/err") || { cat "$work/err" >&2; exit 1; }
  read -r S[$key] K[$key] <"$work/t"
}
phases=(plan_create apply_create plan_noop destroy)
mpcmd() { case $1 in plan_*) echo plan -no-color;; apply_create) echo apply -auto-approve -no-color;; destroy) echo destroy -auto-approve -no-color;; esac; }
tfcmd() { case $1 in plan_*) echo plan -input=false -no-color -refresh=true;; apply_create) echo apply -auto-approve -input=false -no-color;; destroy) echo destroy -auto-approve -input=false -no-color;; esac; }
for p in "${phases[@]}"; do
  # shellcheck disable=SC2046
  measure "mp_$p" "$work/mp" "$work/mailplan" $(mpcmd "$p")
  # shellcheck disable=SC2046
  if [ "$TF" = 1 ]; then measure "tf_$p" "$work/tf" terraform $(tfcmd "$p"); fi
done
printf 'N = %d\n%-14s %10s %10s %8s | %10s %10s | %9s %9s\n' "$N" phase mp_s mp_MiB KB/res tf_s tf_MiB tf/mp_t tf/mp_mem
for p in "${phases[@]}"; do
  awk -v p="$p" -v n="$N" -v ms="${S[mp_$p]}" -v mk="${K[mp_$p]}" -v ts="${S[tf_$p]:-0}" -v tk="${K[tf_$p]:-0}" 'BEGIN {
    printf "%-14s %10.2f %10.1f %8.2f | %10.2f %10.1f | %9s %9s\n", p, ms, mk/1024, mk*1.024/n, ts, tk/1024,
      (ms > 0 && ts > 0) ? sprintf("%.1fx", ts/ms) : "n/a", (mk > 0 && tk > 0) ? sprintf("%.2fx", tk/mk) : "n/a" }'
done
echo "(mailplan writes and reads back $N real files; terraform_data touches nothing)"
