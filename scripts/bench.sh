#!/usr/bin/env bash
# make bench: plan and apply of N `file` resources over the local transport,
# next to Terraform with as many built-in terraform_data resources, in the
# same run. Prints wall time and peak memory (GNU time) and the ratios.
set -euo pipefail
N="${N:-1000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/mailplan-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$root" && go build -o "$work/mailplan" ./cmd/mailplan
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

measure() { # label, dir, command...
  local label="$1" dir="$2"; shift 2
  local out
  out="$( { cd "$dir" && /usr/bin/time -f '%e %M' "$@" >/dev/null 2>"$work/err"; } 2>&1; tail -1 "$work/err")"
  read -r secs kb <<<"$(tail -1 "$work/err")"
  printf '%-28s %8.2f s %8d KiB\n' "$label" "$secs" "$kb"
  eval "${label//[^a-z_]/_}_s=$secs; ${label//[^a-z_]/_}_kb=$kb"
}

echo "N = $N resources"
measure "mailplan_plan_create" "$work/mp" "$work/mailplan" plan -no-color
measure "mailplan_apply_create" "$work/mp" "$work/mailplan" apply -auto-approve -no-color
measure "mailplan_plan_noop" "$work/mp" "$work/mailplan" plan -no-color

export CHECKPOINT_DISABLE=1
if command -v terraform >/dev/null 2>&1; then
  (cd "$work/tf" && terraform init -input=false >/dev/null)
  measure "terraform_plan_create" "$work/tf" terraform plan -input=false -no-color
  measure "terraform_apply_create" "$work/tf" terraform apply -auto-approve -input=false -no-color
  measure "terraform_plan_noop" "$work/tf" terraform plan -input=false -no-color
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
  echo
  echo "ratio mailplan/terraform (time, memory):"
  echo "  plan (create):  $(ratio "$mailplan_plan_create_s" "$terraform_plan_create_s")x  $(ratio "$mailplan_plan_create_kb" "$terraform_plan_create_kb")x"
  echo "  apply (create): $(ratio "$mailplan_apply_create_s" "$terraform_apply_create_s")x  $(ratio "$mailplan_apply_create_kb" "$terraform_apply_create_kb")x"
  echo "  plan (no-op):   $(ratio "$mailplan_plan_noop_s" "$terraform_plan_noop_s")x  $(ratio "$mailplan_plan_noop_kb" "$terraform_plan_noop_kb")x"
  echo "(mailplan writes and reads back $N real files; terraform_data touches nothing)"
else
  echo "terraform not found: no comparison"
fi
