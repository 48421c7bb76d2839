#!/usr/bin/env bash
# The benchmarks of docs/benchmarks.md. By default the no-op plan benchmark: times
# `virtconverge plan` on a host that already matches the document against vc_bench_floor (connect,
# list the domains, read each one's XML). With --live the live-change benchmark instead: times
# `virtconverge apply` raising the vCPUs of N running domains by hot-plug against
# vc_bench_floor_live (two virDomainSetVcpusFlags calls per domain).
#
#   bench/run.sh [options]
#     --build-dir DIR   where virtconverge and bench/vc_bench_floor are built ($VC_BUILD_DIR,
#                       default: build/ beside this directory); this script builds nothing
#     --quick           N = 10 only and few runs (for CI); still fails if the plan is not a no-op
#     --test-only       only the libvirt test driver (no libvirtd needed)
#     --real-only       only the real libvirtd
#     --uri URI         the real libvirtd ($VC_BENCH_URI, default qemu:///system)
#     --runs R          timed runs per command in all (default 30, quick 5)
#     --rounds K        split them into K hyperfine invocations that alternate which command
#                       goes first, so load that comes and goes on a shared machine hits both
#                       alike (default 5, quick 1)
#     --warmup W        hyperfine warm-up runs per command and round (default 2, quick 1)
#     --out DIR         keep hyperfine's JSON and markdown, and the table, in DIR
#     --sizes "N ..."   only these N (to rerun rows; no-op: for the test driver and the real
#                       libvirtd alike)
#     --live            the live-change benchmark (real libvirtd only), N = 10 and 50 (quick: 4);
#                       --runs is then the timed runs per command (default 5, quick 1) and
#                       --rounds and --warmup do not apply
#
# The real part creates stopped domains vcb-d1..vcb-dN with `virtconverge apply` and undefines them
# again on exit, also on failure or interruption. Without a reachable libvirtd it is skipped unless
# --real-only was given. Exit status: 0 when every plan was a no-op (exit code 0, "No changes"),
# 1 otherwise or on any error, 2 on bad usage. The 1.5x target is reported, not enforced: timings
# on a shared machine are too noisy to gate on.
#
# --live defines domains vcb-l1..vcb-lN (1 of at most 4 vCPUs, 64 MiB, no OS, no disk; KVM when
# /dev/kvm exists, else TCG) with `virtconverge apply`, boots each once and saves it (virsh save, in
# the temporary directory). Before each timed run it resets them (destroy, 1 vCPU in the config,
# restore: fresh QEMU processes with 1 vCPU; not timed) and checks that the plan of the 2-vCPU
# document is exactly N live vCPU hot-plugs; then it times one of
#   apply -p 1 / apply -p 4   virtconverge apply DOC-2 --parallelism 1 / 4
#   floor -p 1 / floor -p 4   vc_bench_floor_live URI 2 --parallelism 1 / 4 vcb-l1..vcb-lN
# in rotating order, and afterwards checks that every domain has 2 vCPUs live and in its config
# and still runs in the same QEMU process (/run/libvirt/qemu/NAME.pid). Any failed check fails the
# run (exit 1). The domains are undefined on exit, also on failure or interruption.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${VC_BUILD_DIR:-$here/../build}
uri=${VC_BENCH_URI:-qemu:///system}
quick=0 test_part=1 real_part=auto runs="" rounds="" warmup="" out="" live=0 sizes=""

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --build-dir) build=${2:?}; shift 2 ;;
    --quick) quick=1; shift ;;
    --test-only) real_part=no; shift ;;
    --real-only) test_part=0; real_part=yes; shift ;;
    --uri) uri=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --warmup) warmup=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --live) live=1; shift ;;
    --sizes) sizes=${2:?}; shift 2 ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done
if [ "$live" = 1 ]; then
  if [ "$test_part" = 0 ] || [ "$real_part" != auto ]; then
    echo "run.sh: --live runs on the real libvirtd only; leave out --test-only and --real-only" >&2
    usage
  fi
  live_sizes=(10 50) rounds=1 warmup=0
  [ "$quick" = 1 ] && live_sizes=(4)  # each new domain boots once: 10 s of CPU under nested KVM
  runs=${runs:-$([ "$quick" = 1 ] && echo 1 || echo 5)}
elif [ "$quick" = 1 ]; then
  test_sizes=(10) real_sizes=(10) runs=${runs:-5} rounds=${rounds:-1} warmup=${warmup:-1}
else
  test_sizes=(10 100 1000) real_sizes=(10 50) runs=${runs:-30} rounds=${rounds:-5} warmup=${warmup:-2}
fi
if [ -n "$sizes" ]; then
  read -r -a test_sizes <<<"$sizes"
  real_sizes=("${test_sizes[@]}") live_sizes=("${test_sizes[@]}")
fi
for value in "$runs" "$rounds" "${test_sizes[@]}" "${live_sizes[@]}"; do
  [[ $value =~ ^[1-9][0-9]{0,3}$ ]] || usage
done
[[ $warmup =~ ^[0-9]+$ ]] || usage
per_round=$(((runs + rounds - 1) / rounds)) runs_done=$((per_round * rounds))

die() { echo "run.sh: $*" >&2; exit 1; }
build=$(cd "$build" 2>/dev/null && pwd) || die "no build directory (give --build-dir or VC_BUILD_DIR)"
vc=$build/virtconverge floor=$build/bench/vc_bench_floor floor_live=$build/bench/vc_bench_floor_live
[ -x "$vc" ] || die "$vc is not built (cd $build && ninja)"
if [ "$live" = 1 ]; then
  [ -x "$floor_live" ] || die "$floor_live is not built (cd $build && ninja vc_bench_floor_live)"
else
  [ -x "$floor" ] || die "$floor is not built (cd $build && ninja vc_bench_floor)"
fi
tools=(hyperfine python3)
[ "$live" = 1 ] && tools=(python3 virsh)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh installs it)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vcb-bench.XXXXXX")
# hyperfine runs the commands without a shell (-N), so their paths must not contain blanks.
case "$build$work" in *[[:space:]]*) die "the build and temporary paths must not contain blanks" ;; esac
results=${out:-$work/results}
mkdir -p "$results"

# Undefines the named domains of the real libvirtd that exist, destroying the active ones first (in
# parallel: QEMU takes about a second to exit under nested KVM).
remove_domains() {
  local name status=0 present=() active=()
  mapfile -t present < <(printf '%s\n' "$@" | grep -Fx -f <(virsh -q -c "$uri" list --all --name) || true)
  [ "${#present[@]}" -gt 0 ] || return 0
  mapfile -t active < <(printf '%s\n' "${present[@]}" | grep -Fx -f <(virsh -q -c "$uri" list --name) || true)
  if [ "${#active[@]}" -gt 0 ]; then
    printf '%s\n' "${active[@]}" | xargs -n 1 -P 16 virsh -q -c "$uri" destroy >/dev/null || status=1
  fi
  for name in "${present[@]}"; do virsh -q -c "$uri" undefine "$name" >/dev/null || status=1; done
  return "$status"
}

created=0       # the highest N of vcb-d1..vcb-dN that may exist on the real libvirtd
created_live=0  # the same for vcb-l1..vcb-lN (--live)
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local status=$? i names=()
  if [ "$created" -gt 0 ]; then
    echo "== removing vcb-d1..vcb-d$created from $uri" >&2
    for ((i = 1; i <= created; i++)); do names+=("vcb-d$i"); done
  fi
  if [ "$created_live" -gt 0 ]; then
    echo "== removing vcb-l1..vcb-l$created_live from $uri" >&2
    for ((i = 1; i <= created_live; i++)); do names+=("vcb-l$i"); done
  fi
  if [ "${#names[@]}" -gt 0 ]; then remove_domains "${names[@]}" || status=1; fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Fails unless planning $1 against $2 is a no-op: exit code 0 with --detailed-exitcode (2 would
# mean changes, 1 errors) and "No changes" in the output.
assert_noop() {
  local doc=$1 connection=$2 log=$work/noop.log rc=0
  "$vc" plan "$doc" --connection "$connection" --detailed-exitcode >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ] || ! grep -q "No changes" "$log"; then
    echo "run.sh: the plan of $doc on $connection is not a no-op (exit code $rc):" >&2
    cat "$log" >&2
    exit 1
  fi
  "$floor" "$connection" || die "vc_bench_floor failed on $connection"
}

# Prints the mean count of user-space instructions of the command "$@" over 5 runs (perf stat), or
# nothing when perf cannot count them.
count_instructions() {
  perf stat -x, -e instructions:u -r 5 -o "$work/perf.txt" -- "$@" >/dev/null 2>&1 || return 0
  sed -n 's/^\([0-9][0-9.]*\),.*instructions:u.*/\1/p' "$work/perf.txt"
}
have_perf=0
perf stat -x, -e instructions:u -o /dev/null -- true >/dev/null 2>&1 && have_perf=1

# Times plan against the floor in $rounds hyperfine invocations of $per_round runs each, plan first
# in odd rounds and the floor first in even ones, then pools the runs into $results/$1.json (the
# shape of one hyperfine export: mean, stddev, median, min, max, user, system, times).
measure() {
  local label=$1 doc=$2 connection=$3 round
  local plan_cmd="$vc plan $doc --connection $connection --detailed-exitcode" floor_cmd="$floor $connection"
  echo "== $label: $connection ($rounds round(s) of $per_round run(s))" >&2
  rm -f "$results/$label".round*.json "$results/$label".round*.md
  for ((round = 1; round <= rounds; round++)); do
    local order=(-n plan "$plan_cmd" -n floor "$floor_cmd")
    ((round % 2 == 0)) && order=(-n floor "$floor_cmd" -n plan "$plan_cmd")
    if ! hyperfine -N --style basic --warmup "$warmup" --runs "$per_round" \
      --export-json "$results/$label.round$round.json" \
      --export-markdown "$results/$label.round$round.md" "${order[@]}" >&2; then
      # hyperfine does not show the output of the failed run: plan once more, to show why.
      echo "run.sh: a timed run failed ($label, round $round); planning once more:" >&2
      assert_noop "$doc" "$connection"
      die "a timed run of $label failed, the next plan did not (something changed meanwhile?)"
    fi
  done
  # User-space instructions do not depend on what else the machine runs: a steadier ratio than
  # times on a shared machine (daemon time and waiting are not in it).
  local instructions_plan="" instructions_floor=""
  if [ "$have_perf" = 1 ]; then
    # shellcheck disable=SC2086  # the commands are word lists without blanks in their words
    instructions_plan=$(count_instructions $plan_cmd) instructions_floor=$(count_instructions $floor_cmd)
  fi
  python3 - "$results/$label.json" "$instructions_plan" "$instructions_floor" \
    "$results/$label".round*.json <<'PY'
import json, statistics, sys
out, instructions, rounds = sys.argv[1], dict(zip(["plan", "floor"], sys.argv[2:4])), sys.argv[4:]
runs = {}
for path in rounds:
    for r in json.load(open(path))["results"]:
        runs.setdefault(r["command"], []).append(r)
results = []
for command, parts in sorted(runs.items()):
    times = [t for p in parts for t in p["times"]]
    results.append({
        "command": command, "times": times,
        "mean": statistics.fmean(times), "median": statistics.median(times),
        "stddev": statistics.stdev(times) if len(times) > 1 else 0.0,
        "min": min(times), "max": max(times),
        "user": statistics.fmean(p["user"] for p in parts),
        "system": statistics.fmean(p["system"] for p in parts),
        "instructions": float(instructions[command]) if instructions.get(command) else None,
    })
json.dump({"results": results}, open(out, "w"), indent=2)
PY
  rows+=("$label")
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "virtconverge: $("$vc" --version) ($(git -C "$here" describe --always --dirty 2>/dev/null || echo unknown))"
  # shellcheck disable=SC1091
  echo "machine: $(nproc) CPU(s), $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), kernel $(uname -r)"
  echo "libvirt: $(pkg-config --modversion libvirt 2>/dev/null || echo unknown) (library)"
  echo "hyperfine: $(hyperfine --version)"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$results/environment.txt"
cat "$results/environment.txt" >&2

# ---- The live-change benchmark (--live) ----

# Runs the command $2... without a shell, its output into $1, and prints "WALL USER SYS EXIT" of
# that process alone (seconds; start-up of the timer itself is outside).
timed() {
  python3 - "$@" <<'PY'
import os, subprocess, sys, time
log, cmd = sys.argv[1], sys.argv[2:]
with open(log, "w") as out:
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4
print(f"{wall:.6f} {usage.ru_utime:.6f} {usage.ru_stime:.6f} {child.returncode}")
PY
}

# Runs one virsh process for the commands "$1 NAME $2" of every name in live_names.
virsh_each() {
  local batch="" name
  for name in "${live_names[@]}"; do batch+="$1 $name $2; "; done
  virsh -q -c "$uri" "$batch"
}

live_fail() {
  echo "run.sh: $1 (N = ${#live_names[@]}, run ${run:-}, ${cmd_label:-})." >&2
  [ -n "${2:-}" ] && cat "$2" >&2
  echo "run.sh: if vcb-l* domains vanished, another client ran apply --prune; run again." >&2
  exit 1
}

# CPU ticks (1/100 s) that the QEMU processes of the named domains have used so far.
qemu_ticks() {
  local name pid total=0 t
  for name in "$@"; do
    pid=$(cat "/run/libvirt/qemu/$name.pid" 2>/dev/null) || continue
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || continue
    total=$((total + t))
  done
  echo "$total"
}

# Waits until every guest named has finished booting, that is uses at most 5% of a CPU: SeaBIOS
# finding no bootable device takes about 10 s of a CPU under nested KVM (an idle guest then uses
# about 2.5%). Boot at most as many at once as there are CPUs, or all look idle.
wait_idle() {
  local deadline=$((SECONDS + 300)) name before=() i busy
  while :; do
    before=()
    for name in "$@"; do before+=("$(qemu_ticks "$name")"); done
    sleep 2
    busy=0 i=0
    for name in "$@"; do
      (($(qemu_ticks "$name") - before[i] > 10)) && busy=1
      i=$((i + 1))
    done
    [ "$busy" = 0 ] && return 0
    ((SECONDS < deadline)) || live_fail "the guests $* did not become idle within 5 minutes"
  done
}

# Prints the UUIDs of the domains whose saved states are given ($saves/NAME.img), one a line.
virsh_uuids() {
  local batch="" img name
  for img in "$@"; do name=${img##*/}; batch+="domuuid ${name%.img}; "; done
  virsh -q -c "$uri" "$batch" | grep -v '^$'
}

# Back to N running domains with 1 vCPU, each in a fresh QEMU process, without booting them again
# (a boot costs 10 s of CPU here, a restore a few hundredths): destroy the running ones, apply the
# document of N stopped 1-vCPU domains (the config), restore each from the state saved after its
# first boot (`virsh save`), boot and save the domains new in this size, and check that the 1-vCPU
# running document is then a no-op. Not timed.
reset_live() {
  local dir=$1 name batch="" fresh=() saved=() group=() log=$work/reset.log rc=0 cpus
  cpus=$(nproc)
  # QEMU takes about a second to exit under nested KVM: destroy in parallel.
  { virsh -q -c "$uri" list --name --state-running | grep -E '^vcb-l[0-9]+$' || true; } |
    xargs -r -n 1 -P 16 virsh -q -c "$uri" destroy >/dev/null || live_fail "cannot destroy the vcb-l* domains"
  "$vc" apply "$dir/doc-0.yaml" --connection "$uri" >"$log" 2>&1 || live_fail "applying doc-0.yaml failed" "$log"
  for name in "${live_names[@]}"; do
    if [ -f "$saves/$name.img" ]; then saved+=("$saves/$name.img"); else fresh+=("$name"); fi
  done
  # A saved state restores only into the domain it was saved from (same UUID).
  if [ "${#saved[@]}" -gt 0 ] && ! cmp -s <(cat "${saved[@]/%.img/.uuid}") <(virsh_uuids "${saved[@]}"); then
    live_fail "vcb-l* domains were undefined and defined again meanwhile (another client's apply --prune?)"
  fi
  if [ "${#saved[@]}" -gt 0 ]; then
    printf '%s\n' "${saved[@]}" | xargs -n 1 -P 4 virsh -q -c "$uri" restore >/dev/null ||
      live_fail "cannot restore the vcb-l* domains"
  fi
  if [ "${#fresh[@]}" -gt 0 ]; then
    echo "== booting ${#fresh[@]} new domain(s), $cpus at a time (about 10 s of CPU each), saving each once idle" >&2
    while [ "${#fresh[@]}" -gt 0 ]; do
      group=("${fresh[@]:0:cpus}") fresh=("${fresh[@]:cpus}") batch=""
      for name in "${group[@]}"; do batch+="start $name; "; done
      virsh -q -c "$uri" "$batch" >/dev/null || live_fail "cannot start ${group[*]}"
      wait_idle "${group[@]}"
      batch=""
      for name in "${group[@]}"; do batch+="save $name $saves/$name.img; restore $saves/$name.img; "; done
      virsh -q -c "$uri" "$batch" >/dev/null || live_fail "cannot save ${group[*]}"
      for name in "${group[@]}"; do virsh_uuids "$saves/$name.img" >"$saves/$name.uuid"; done
    done
  fi
  "$vc" plan "$dir/doc-1.yaml" --connection "$uri" --detailed-exitcode >"$log" 2>&1 || rc=$?
  [ "$rc" = 0 ] || live_fail "after the reset, the plan of doc-1.yaml is not a no-op (exit code $rc)" "$log"
  sleep 2  # a restored guest uses some CPU in its first second
}

# Reads the QEMU pid of every domain into the array named $1.
read_pids() {
  local -n into=$1
  local name
  into=()
  for name in "${live_names[@]}"; do into+=("$(cat "/run/libvirt/qemu/$name.pid" 2>/dev/null || echo none)"); done
}

# Times the plan of the 2-vCPU document (recorded as "plan") and fails unless it is exactly N live
# vCPU hot-plugs.
check_plan_live() {
  local doc=$1 n=${#live_names[@]} log=$work/plan.log wall user sys rc
  read -r wall user sys rc < <(timed "$log" "$vc" plan "$doc" --connection "$uri" --detailed-exitcode)
  [ "$rc" = 2 ] || live_fail "plan of $doc exited $rc, not 2 (changes)" "$log"
  grep -qx "Plan: 0 to create, $n to update ($n live, 0 need restart), 0 to replace, 0 to destroy." "$log" &&
    [ "$(grep -c '^    vcpus 1 → 2  (live: hot-plug)$' "$log")" = "$n" ] ||
    live_fail "the plan of $doc is not $n live vCPU hot-plugs" "$log"
  printf '%s\tplan\t%s\t%s\t%s\t%s\t\t\n' "$n" "$run" "$wall" "$user" "$sys" >>"$results/live.tsv"
}

# After a timed run: every domain has 2 vCPUs live and in its config, in the same QEMU process.
check_done_live() {
  local n=${#live_names[@]} counts=() after=() i
  mapfile -t counts < <(virsh_each vcpucount "--active --live" 2>&1 | grep -v '^$' || true)
  [ "${#counts[@]}" = "$n" ] && [ -z "$(printf '%s\n' "${counts[@]}" | grep -vx 2)" ] ||
    live_fail "not every domain has 2 live vCPUs: ${counts[*]}"
  mapfile -t counts < <(virsh_each vcpucount "--active --config" 2>&1 | grep -v '^$' || true)
  [ "${#counts[@]}" = "$n" ] && [ -z "$(printf '%s\n' "${counts[@]}" | grep -vx 2)" ] ||
    live_fail "not every domain has 2 vCPUs in its config: ${counts[*]}"
  read_pids after
  for ((i = 0; i < n; i++)); do
    [ "${pids_before[i]}" != none ] && [ "${pids_before[i]}" = "${after[i]}" ] ||
      live_fail "${live_names[i]} runs in another QEMU process (pid ${pids_before[i]} before, ${after[i]} after)"
  done
}

run_live() {
  local n dir run cmd_label wall user sys rc log=$work/timed.log k first
  local reset_start reset_seconds config_steps hotplug_steps
  local labels=("apply -p 1" "apply -p 4" "floor -p 1" "floor -p 4")
  local virt_type=kvm
  [ -c /dev/kvm ] || virt_type=qemu
  echo "guests: $virt_type (no OS, 64 MiB, 1 of 4 vCPUs)" | tee -a "$results/environment.txt" >&2
  command -v virsh >/dev/null || die "virsh is missing (apt-get install libvirt-clients)"
  virsh -q -c "$uri" version >/dev/null || die "$uri does not answer"
  [ -r /run/libvirt/qemu ] || die "/run/libvirt/qemu is not readable (run as root on the libvirtd host)"
  mapfile -t stale < <(virsh -q -c "$uri" list --all --name | grep -E '^vcb-l[0-9]+$' || true)
  if [ "${#stale[@]}" -gt 0 ]; then
    echo "== removing ${#stale[@]} leftover vcb-l* domain(s) from $uri" >&2
    remove_domains "${stale[@]}" || die "cannot remove the leftover vcb-l* domains"
  fi
  printf 'n\tcommand\trun\twall\tuser\tsys\tconfig_steps\thotplug_steps\n' >"$results/live.tsv"
  saves=$work/saves
  mkdir -p "$saves"
  for n in "${live_sizes[@]}"; do
    dir=$work/live-$n
    "$here/gen.sh" live "$n" "$dir" "$virt_type"
    mapfile -t live_names <"$dir/names"
    [ "$n" -gt "$created_live" ] && created_live=$n
    echo "== live: $n running domains vcb-l1..vcb-l$n on $uri, $runs run(s) of each command" >&2
    for ((run = 1; run <= runs; run++)); do
      first=$(((run - 1) % ${#labels[@]}))
      for ((k = 0; k < ${#labels[@]}; k++)); do
        cmd_label=${labels[(first + k) % ${#labels[@]}]}
        reset_start=$EPOCHREALTIME
        reset_live "$dir"
        reset_seconds=$(awk -v a="$reset_start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
        check_plan_live "$dir/doc-2.yaml"
        read_pids pids_before
        case $cmd_label in
          "apply -p "*) set -- "$vc" apply "$dir/doc-2.yaml" --connection "$uri" --parallelism "${cmd_label##* }" ;;
          "floor -p "*) set -- "$floor_live" "$uri" 2 --parallelism "${cmd_label##* }" "${live_names[@]}" ;;
        esac
        read -r wall user sys rc < <(timed "$log" "$@")
        [ "$rc" = 0 ] || live_fail "$cmd_label exited $rc" "$log"
        config_steps="" hotplug_steps=""
        if [[ $cmd_label == apply* ]]; then
          grep -qx "Apply: $n of $n resource(s) converged." "$log" || live_fail "apply did not converge" "$log"
          [ "$(grep -c ': hot-plug vCPUs of domain\.vcb-l[0-9]* to 2 (' "$log")" = "$n" ] ||
            live_fail "apply did not hot-plug every domain" "$log"
          # The applier's own timing of each step, summed over the domains.
          config_steps=$(sed -n 's/.*: write persistent config of .* (\([0-9.]*\) s)$/\1/p' "$log" |
            awk '{ s += $1 } END { print s + 0 }')
          hotplug_steps=$(sed -n 's/.*: hot-plug vCPUs of .* (\([0-9.]*\) s)$/\1/p' "$log" |
            awk '{ s += $1 } END { print s + 0 }')
          cp "$log" "$results/live-$n-${cmd_label// /}-run$run.log"
        fi
        check_done_live
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$cmd_label" "$run" "$wall" "$user" "$sys" \
          "$config_steps" "$hotplug_steps" >>"$results/live.tsv"
        printf '   N=%-3s run %s  %-11s %7.3f s  (user+sys %.3f s; reset before it %.1f s)\n' "$n" "$run" \
          "$cmd_label" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')" "$reset_seconds" >&2
      done
    done
  done

  python3 - "$results" "$runs" <<'PY'
import csv, statistics, sys
results, runs = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(f"{results}/live.tsv"), delimiter="\t"))
med = statistics.median
lines = [
    "| N | command | median (s) | per domain (ms) | min – max (s) | user+sys (s) "
    "| median / floor at the same -p | − floor, per domain (ms) |",
    "|---:|---|---:|---:|---:|---:|---:|---:|",
]
steps = []
for n in sorted({int(r["n"]) for r in rows}):
    by = {}
    for r in rows:
        if int(r["n"]) == n:
            by.setdefault(r["command"], []).append(r)
    for command in ["apply -p 1", "apply -p 4", "floor -p 1", "floor -p 4", "plan"]:
        rs = by.get(command, [])
        if not rs:
            continue
        wall = [float(r["wall"]) for r in rs]
        cpu = [float(r["user"]) + float(r["sys"]) for r in rs]
        ratio = extra = ""
        if command.startswith("apply"):
            floor = by.get("floor" + command[len("apply"):])
            if floor:
                floor_median = med(float(r["wall"]) for r in floor)
                ratio = f"{med(wall) / floor_median:.2f}×"
                extra = f"{(med(wall) - floor_median) / n * 1e3:.1f}"
        name = "plan (observe, plan; N hot-plugs pending)" if command == "plan" else command
        lines.append(f"| {n} | {name} | {med(wall):.3f} | {med(wall) / n * 1e3:.1f} "
                     f"| {min(wall):.3f} – {max(wall):.3f} | {med(cpu):.3f} | {ratio} | {extra} |")
        if command.startswith("apply"):
            conf = med(float(r["config_steps"]) for r in rs)
            hot = med(float(r["hotplug_steps"]) for r in rs)
            steps.append(f"| {n} | {command} | {conf / n * 1e3:.1f} | {hot / n * 1e3:.1f} |")
table = "\n".join(lines) + "\n"
step_table = "\n".join([
    "| N | command | write persistent config (ms per domain) | hot-plug (ms per domain) |",
    "|---:|---|---:|---:|"] + steps) + "\n"
open(f"{results}/live-table.md", "w").write(table + "\n" + step_table)
print(f"\nOne live vCPU hot-plug on each of N running domains ({runs} timed run(s) of each command; "
      "medians)")
print(table)
print("Steps as the applier times them (median over the runs of the sum over the domains, per domain):")
print(step_table)
print("Every apply hot-plugged every domain, live and in its config, without a new QEMU process.")
PY
}

if [ "$live" = 1 ]; then
  run_live
  [ -n "$out" ] && echo "Results kept in $out"
  exit 0
fi

rows=()
if [ "$test_part" = 1 ]; then
  for n in "${test_sizes[@]}"; do
    dir=$work/test-$n
    "$here/gen.sh" test "$n" "$dir"
    assert_noop "$dir/doc.yaml" "test://$dir/node.xml"
    measure "test-$n" "$dir/doc.yaml" "test://$dir/node.xml"
  done
fi

if [ "$real_part" = auto ]; then
  if virsh -q -c "$uri" version >/dev/null 2>&1; then real_part=yes; else
    echo "== $uri does not answer: the real libvirtd part is skipped" >&2
    real_part=no
  fi
fi
if [ "$real_part" = yes ]; then
  command -v virsh >/dev/null || die "virsh is missing (apt-get install libvirt-clients)"
  virsh -q -c "$uri" version >/dev/null || die "$uri does not answer"
  # Left over by a run that could not clean up (killed): they would inflate N.
  mapfile -t stale < <(virsh -q -c "$uri" list --all --name | grep -E '^vcb-d[0-9]+$' || true)
  if [ "${#stale[@]}" -gt 0 ]; then
    echo "== removing ${#stale[@]} leftover vcb-d* domain(s) from $uri" >&2
    remove_domains "${stale[@]}" || die "cannot remove the leftover vcb-d* domains"
  fi
  for n in "${real_sizes[@]}"; do
    dir=$work/real-$n
    "$here/gen.sh" real "$n" "$dir"
    [ "$n" -gt "$created" ] && created=$n
    echo "== creating vcb-d1..vcb-d$n on $uri" >&2
    "$vc" apply "$dir/doc.yaml" --connection "$uri" >"$work/apply.log" 2>&1 || {
      cat "$work/apply.log" >&2
      die "apply of $dir/doc.yaml failed"
    }
    assert_noop "$dir/doc.yaml" "$uri"
    measure "real-$n" "$dir/doc.yaml" "$uri"
  done
fi

# One row per measurement: times in ms; the ratios are plan / floor. The mean is what the target
# names; the median and the minimum resist the outliers a shared machine produces.
python3 - "$results" "$runs_done" "$rounds" "$warmup" "${rows[@]}" <<'PY'
import json, sys
results, runs, rounds, warmup, labels = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
lines = [
    "| host | N | plan mean ± σ (ms) | floor mean ± σ (ms) | ratio of means | ratio of medians "
    "| ratio of minima | plan user+sys (ms) | floor user+sys (ms) | ratio of CPU "
    "| plan instructions (M) | ratio of instructions |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
]
missed = 0
for label in labels:
    r = {x["command"]: x for x in json.load(open(f"{results}/{label}.json"))["results"]}
    p, f = r["plan"], r["floor"]
    host, n = label.rsplit("-", 1)
    cpu_p, cpu_f = p["user"] + p["system"], f["user"] + f["system"]
    ratio = p["mean"] / f["mean"]
    missed += ratio > 1.5
    lines.append(
        f"| {host} | {n} | {p['mean'] * 1e3:.1f} ± {p['stddev'] * 1e3:.1f} "
        f"| {f['mean'] * 1e3:.1f} ± {f['stddev'] * 1e3:.1f} | **{ratio:.2f}×** "
        f"| {p['median'] / f['median']:.2f}× | {p['min'] / f['min']:.2f}× "
        f"| {cpu_p * 1e3:.1f} | {cpu_f * 1e3:.1f} | {cpu_p / cpu_f:.2f}× "
        + (f"| {p['instructions'] / 1e6:.0f} | {p['instructions'] / f['instructions']:.2f}× |"
           if p.get("instructions") and f.get("instructions") else "| – | – |"))
table = "\n".join(lines) + "\n"
open(f"{results}/table.md", "w").write(table)
print(f"\nNo-op plan vs floor ({runs} runs each in {rounds} round(s), {warmup} warm-up(s) a round; "
      "target: plan within 1.5x of the floor)")
print(table)
print("Instructions: user-space instructions of one process (perf stat, mean of 5 runs), when perf can count them.")
print(f"Every plan was a no-op. Ratio of means above 1.5x: {missed} of {len(labels)} row(s).")
PY
[ -n "$out" ] && echo "Results kept in $out"
exit 0
