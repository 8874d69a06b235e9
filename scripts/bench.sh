#!/usr/bin/env bash
# make bench: mailplan's performance goals measured in one run, each next
# to the tool a user would pick instead, measured in the same run, and one
# table at the end (docs/benchmarks.md says what each row means).
#
#   engine   every phase (plan create, apply create, no-op plan, destroy) of
#            N `file` resources over the local transport, next to Terraform
#            with as many built-in terraform_data resources, interleaved
#            phase by phase so that other load hits both alike: wall time
#            and peak RSS (GNU time), KB per resource, linearity.
#   ssh      the same phases for BENCH_SSH_FILES files over SSH to a test
#            bed sshd, every byte held BENCH_RTT_MS/2 each way
#            (cmd/mailplan BenchmarkSSH1000Files).
#   shadow   apply of the shadow-copy example for each BENCH_SHADOW_DOMAINS
#            count on a test bed Postfix over SSH: seconds, Postfix reloads
#            (cmd/mailplan TestShadowCopyReloadsOnce).
#   mailbox  mailbox_copy of BENCH_MESSAGES messages from a test bed sshd,
#            next to rsync -a over ssh, and locally next to cp -a: initial,
#            no-change and 1 % new runs, peak memory
#            (resources/mailbox BenchmarkCopy).
#
# The Go pieces print `BENCH key=value` lines; this script gathers them.
# Arguments name the sections to run (default: all four). Environment:
#   BENCH_QUICK=1          small sizes, to try it (a few minutes)
#   BENCH_ENGINE_SIZES     resource counts (default "5000 50000"; N=n: "n")
#   BENCH_TF_MAX           Terraform is timed at sizes up to this (5000)
#   BENCH_SSH_FILES        files over SSH (1000)
#   BENCH_RTT_MS           added round trip, even milliseconds (20)
#   BENCH_SHADOW_DOMAINS   domain counts (default "2 10 50")
#   BENCH_MESSAGES         mailbox messages (100000)
#   BENCH_ROUNDS           extra interleaved initial copies, median (0)
#   MP=path                time a prebuilt mailplan (engine section)
#   TF=0                   leave Terraform out (default: it must be there)
# The ssh, shadow and mailbox sections start test bed servers: run as root.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  q_sizes="250 1000" q_ssh=50 q_domains="2 10" q_messages=2000
else
  q_sizes="5000 50000" q_ssh=1000 q_domains="2 10 50" q_messages=100000
fi
ENGINE_SIZES="${BENCH_ENGINE_SIZES:-${N:-$q_sizes}}"
TF_MAX="${BENCH_TF_MAX:-5000}"
SSH_FILES="${BENCH_SSH_FILES:-$q_ssh}"
RTT_MS="${BENCH_RTT_MS:-20}"
SHADOW_DOMAINS="${BENCH_SHADOW_DOMAINS:-$q_domains}"
MESSAGES="${BENCH_MESSAGES:-$q_messages}"
ROUNDS="${BENCH_ROUNDS:-0}"
TF="${TF:-1}"
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(engine ssh shadow mailbox)
want() { [[ " ${sections[*]} " == *" $1 "* ]]; }

die() { echo "bench: $*" >&2; exit 1; }
for s in "${sections[@]}"; do
  case $s in engine|ssh|shadow|mailbox) ;; *) die "unknown section $s (engine, ssh, shadow, mailbox)";; esac
done
if [ -z "${BENCH_RESULTS:-}" ]; then
  # A competitor that is missing is an error: the ratios are the point.
  [ -x /usr/bin/time ] || die "/usr/bin/time (GNU time, Debian package time) is not installed"
  if want engine && [ "$TF" = 1 ] && ! command -v terraform >/dev/null 2>&1; then
    die "terraform is not on the PATH: install it (the engine rows compare with it), or run with TF=0 for mailplan's figures only"
  fi
  if want mailbox; then
    command -v rsync >/dev/null 2>&1 || die "rsync is not installed (apt-get install rsync): the mailbox rows compare with it"
    command -v ssh >/dev/null 2>&1 || die "ssh is not installed (apt-get install openssh-client): rsync copies over it"
  fi
  if (want ssh || want shadow || want mailbox) && [ "$(id -u)" != 0 ]; then
    die "the ssh, shadow and mailbox sections start test bed servers and need root (or run: $0 engine)"
  fi
fi
[ $((RTT_MS % 2)) = 0 ] || die "BENCH_RTT_MS must be even (it is held half each way)"

work="$(mktemp -d /tmp/mailplan-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
logs="$(mktemp -d /tmp/mailplan-bench-logs.XXXXXX)"
echo "bench: logs in $logs"
declare -A R # every figure, by key, as the BENCH lines name them
export CHECKPOINT_DISABLE=1 MAILPLAN_E2E=1

# gather runs a go test command, its output in $logs/$1.log, and takes in
# its BENCH lines; a failure shows the log's end and stops the run.
gather() {
  local name="$1"; shift
  echo "bench: $name: $*"
  if ! (cd "$root" && nice -n 10 "$@") >"$logs/$name.log" 2>&1; then
    tail -40 "$logs/$name.log" >&2
    die "$name failed (whole log: $logs/$name.log)"
  fi
  local line
  while IFS= read -r line; do
    line="${line#BENCH }"
    R[${line%%=*}]="${line#*=}"
  done < <(grep -E '^BENCH [a-z0-9_]+=' "$logs/$name.log")
}

engine() { # n: every phase of n file resources, then as many terraform_data
  local n="$1" dir="$work/engine-$1" tf=0
  [ "$TF" = 1 ] && [ "$n" -le "$TF_MAX" ] && tf=1
  mkdir -p "$dir/mp" "$dir/data" "$dir/tf"
  cat >"$dir/mp/main.mp.hcl" <<HCL
host "here" {
  transport = "local"
}
resource "file" "f" {
  count   = $n
  host    = host.here
  path    = "$dir/data/f\${count.index}"
  content = "file \${count.index}\n"
}
HCL
  cat >"$dir/tf/main.tf" <<HCL
resource "terraform_data" "f" {
  count = $n
  input = "file \${count.index}\n"
}
HCL
  if [ $tf = 1 ]; then
    (cd "$dir/tf" && terraform init -input=false >"$logs/terraform-init-$n.log" 2>&1) ||
      { cat "$logs/terraform-init-$n.log" >&2; die "terraform init failed"; }
  fi
  local p
  for p in plan_create apply_create plan_noop destroy; do
    local mp tf_args
    case $p in
      plan_*) mp=(plan) tf_args=(plan -refresh=true) ;;
      apply_create) mp=(apply -auto-approve) tf_args=(apply -auto-approve) ;;
      destroy) mp=(destroy -auto-approve) tf_args=(destroy -auto-approve) ;;
    esac
    timed "engine_${n}_${p}_mp" "$dir/mp" "$work/mailplan" "${mp[@]}" -no-color
    [ $tf = 1 ] && timed "engine_${n}_${p}_tf" "$dir/tf" terraform "${tf_args[@]}" -input=false -no-color
  done
  rm -rf "$dir"
}

timed() { # key, dir, command...: R[key_s], R[key_kb] (peak RSS, KiB)
  local key="$1" dir="$2"; shift 2
  (cd "$dir" && nice -n 10 /usr/bin/time -o "$work/t" -f '%e %M' "$@" >"$logs/$key.log" 2>&1) ||
    { tail -20 "$logs/$key.log" >&2; die "$key failed: $*"; }
  read -r R[${key}_s] R[${key}_kb] <"$work/t"
  echo "bench: $key ${R[${key}_s]} s, $((R[${key}_kb] / 1024)) MiB"
}

if [ -n "${BENCH_RESULTS:-}" ]; then
  # Only the table, from the figures a run saved.
  while IFS= read -r line; do R[${line%%=*}]="${line#*=}"; done <"$BENCH_RESULTS"
  sections=(none)
  for k in "${!R[@]}"; do sections+=("${k%%_*}"); done
  ENGINE_SIZES="$(printf '%s\n' "${!R[@]}" | sed -n 's/^engine_\([0-9]*\)_.*/\1/p' | sort -nu | tr '\n' ' ')"
  SHADOW_DOMAINS="$(printf '%s\n' "${!R[@]}" | sed -n 's/^shadow_\([0-9]*\)_.*/\1/p' | sort -nu | tr '\n' ' ')"
  ROUNDS="${R[mailbox_rounds]:-0}"
fi
run() { [ -z "${BENCH_RESULTS:-}" ] && want "$1"; }
if run engine; then
  if [ -n "${MP:-}" ]; then cp "$MP" "$work/mailplan"; else (cd "$root" && go build -o "$work/mailplan" ./cmd/mailplan); fi
  for n in $ENGINE_SIZES; do engine "$n"; done
fi
if run ssh; then
  gather ssh env MAILPLAN_BENCH_SSH=1 MAILPLAN_BENCH_FILES="$SSH_FILES" MAILPLAN_RTT_DELAY_MS=$((RTT_MS / 2)) \
    go test -count=1 -timeout 120m -run '^$' -bench '^BenchmarkSSH1000Files$' -benchtime 1x ./cmd/mailplan/
fi
if run shadow; then
  gather shadow env MAILPLAN_SHADOW_DOMAINS="${SHADOW_DOMAINS// /,}" \
    go test -count=1 -timeout 120m -v -run "^TestShadowCopyReloadsOnce\$/^domains=(${SHADOW_DOMAINS// /|})\$" ./cmd/mailplan/
fi
if run mailbox; then
  gather mailbox env MAILPLAN_BENCH_MESSAGES="$MESSAGES" MAILPLAN_BENCH_ROUNDS="$ROUNDS" \
    go test -count=1 -timeout 180m -run '^$' -bench '^BenchmarkCopy$' -benchtime 1x ./resources/mailbox/
fi

if [ -z "${BENCH_RESULTS:-}" ]; then
  for k in "${!R[@]}"; do echo "$k=${R[$k]}"; done | sort >"$logs/results"
  echo "bench: figures in $logs/results (BENCH_RESULTS=that file prints the table again)"
fi

# The table. get prints a figure, or fails loudly when a piece did not
# print it (a renamed BENCH key must not turn into an empty cell).
get() { [ -n "${R[$1]:-}" ] || die "no figure $1 (see the logs in $logs)"; echo "${R[$1]}"; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }
met() { awk "BEGIN { print ($1) ? \"yes\" : \"NO\" }"; }
row() { printf '%-56s %11s %17s %9s %11s %4s\n' "$@"; }
echo
row "goal (one run)" mailplan competitor ratio target met
row "--------------" -------- ---------- ----- ------ ---
if want mailbox; then
  m="$(get mailbox_messages)"
  for k in initial nochange new; do
    label="initial copy, s"; [ $k = nochange ] && label="no-change re-run, s"; [ $k = new ] && label="re-run after 1% new, s"
    mp="$(get mailbox_${k}_mp_s)" rs="$(get mailbox_${k}_rsync_s)" t=0.5; [ $k = initial ] && t=0.67
    row "mailbox $m msgs over SSH: $label" "$(calc "$mp")" "$(calc "$rs") rsync" "$(calc "$mp/$rs")" "<= $t" "$(met "$mp/$rs <= $t")"
  done
  if [ "$ROUNDS" -gt 0 ]; then
    r="$(get mailbox_initial_median_ratio)"
    row "mailbox $m msgs: initial, median of $ROUNDS rounds" "" "rsync" "$(calc "$r")" "<= 0.67" "$(met "$r <= 0.67")"
  fi
  peak=0 rpeak=0
  for k in initial nochange new; do
    peak="$(calc "($(get mailbox_${k}_mp_peak_mib) > $peak) ? $(get mailbox_${k}_mp_peak_mib) : $peak" 1)"
    rpeak="$(calc "($(get mailbox_${k}_rsync_peak_mib) > $rpeak) ? $(get mailbox_${k}_rsync_peak_mib) : $rpeak" 1)"
  done
  mb="$(calc "$peak*1.048576" 1)" rmb="$(calc "$rpeak*1.048576" 1)"
  row "mailbox $m msgs: peak memory, MB" "$mb" "$rmb rsync" "$(calc "$mb/$rmb" 1)" "<= 100 MB" "$(met "$mb <= 100")"
  mp="$(get mailbox_local_mp_s)" cp="$(get mailbox_local_cp_s)"
  row "mailbox $m msgs, both local: initial copy, s" "$(calc "$mp")" "$(calc "$cp") cp -a" "$(calc "$mp/$cp")" "<= 2" "$(met "$mp/$cp <= 2")"
fi
if want shadow; then
  for d in $SHADOW_DOMAINS; do
    s="$(get shadow_${d}_apply_s)" target=- ok=-
    [ "$d" = 2 ] && target="<= 5 s" ok="$(met "$s <= 5")"
    [ "$d" = 50 ] && target="<= 30 s" ok="$(met "$s <= 30")"
    row "shadow-copy apply, $d domains, s" "$(calc "$s")" "" "" "$target" "$ok"
    rl="$(get shadow_${d}_apply_reloads)" in="$(get shadow_${d}_instances)"
    row "shadow-copy apply, $d domains: reloads ($in instance)" "$rl" "" "" "" ""
    row "shadow-copy apply, $d domains: reloads per instance" "$(calc "$rl/$in" 1)" "" "" "= 1" "$(met "$rl/$in == 1")"
  done
fi
if want engine; then
  sizes=($ENGINE_SIZES)
  for n in "${sizes[@]}"; do
    for p in plan_create apply_create plan_noop destroy; do
      mp="$(get "engine_${n}_${p}_mp_s")" comp="" ratio="" target="" ok=""
      if [ -n "${R[engine_${n}_${p}_tf_s]:-}" ]; then
        tf="${R[engine_${n}_${p}_tf_s]}" comp="$tf terraform" ratio="$(calc "$tf/($mp > 0 ? $mp : 0.01)" 1)x"
        if [ $p = plan_noop ]; then target=">= 100x" ok="$(met "$tf/($mp > 0 ? $mp : 0.01) >= 100")"; fi
      fi
      row "engine $n files: $p, s (terraform/mailplan)" "$mp" "$comp" "$ratio" "$target" "$ok"
    done
    kb=0 tkb=0
    for p in plan_create apply_create plan_noop destroy; do
      kb="$(calc "($(get "engine_${n}_${p}_mp_kb") > $kb) ? $(get "engine_${n}_${p}_mp_kb") : $kb" 0)"
      tkb="$(calc "(${R[engine_${n}_${p}_tf_kb]:-0} > $tkb) ? ${R[engine_${n}_${p}_tf_kb]:-0} : $tkb" 0)"
    done
    per="$(calc "$kb*1.024/$n" 1)" comp="" target="" ok=""
    [ "$tkb" != 0 ] && comp="$(calc "$tkb*1.024/$n" 1) terraform"
    if [ "$n" = "${sizes[-1]}" ]; then target="<= 10 KB" ok="$(met "$per <= 10")"; fi
    row "engine $n files: peak memory, KB per resource" "$per" "$comp" "" "$target" "$ok"
  done
  if [ ${#sizes[@]} -ge 2 ]; then
    a="${sizes[0]}" b="${sizes[-1]}"
    for p in plan_create apply_create plan_noop destroy; do
      sa="$(get "engine_${a}_${p}_mp_s")" sb="$(get "engine_${b}_${p}_mp_s")"
      g="$(calc "($sb/$b)/(($sa > 0 ? $sa : 0.01)/$a)")"
      row "engine $p: s per resource at $b / at $a" "$g" "" "" "<= 1.25" "$(met "$g <= 1.25")"
    done
  fi
fi
if want ssh; then
  f="$(get ssh_files)" rtt="$(get ssh_rtt_ms)"
  for p in plan_create apply_create plan_noop destroy; do
    row "over SSH, $f files, ${rtt} ms round trip: $p, s" "$(calc "$(get "ssh_${p}_s")" 1)" "" "" "" ""
  done
fi
