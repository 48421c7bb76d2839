#!/usr/bin/env bash
# The no-op plan benchmark (docs/benchmarks.md): times `virtconverge plan` on a host that already
# matches the document against vc_bench_floor (connect, list the domains, read each one's XML).
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
#
# The real part creates stopped domains vcb-d1..vcb-dN with `virtconverge apply` and undefines them
# again on exit, also on failure or interruption. Without a reachable libvirtd it is skipped unless
# --real-only was given. Exit status: 0 when every plan was a no-op (exit code 0, "No changes"),
# 1 otherwise or on any error, 2 on bad usage. The 1.5x target is reported, not enforced: timings
# on a shared machine are too noisy to gate on.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${VC_BUILD_DIR:-$here/../build}
uri=${VC_BENCH_URI:-qemu:///system}
quick=0 test_part=1 real_part=auto runs="" rounds="" warmup="" out=""

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
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done
if [ "$quick" = 1 ]; then
  test_sizes=(10) real_sizes=(10) runs=${runs:-5} rounds=${rounds:-1} warmup=${warmup:-1}
else
  test_sizes=(10 100 1000) real_sizes=(10 50) runs=${runs:-30} rounds=${rounds:-5} warmup=${warmup:-2}
fi
for value in "$runs" "$rounds"; do [[ $value =~ ^[1-9][0-9]*$ ]] || usage; done
[[ $warmup =~ ^[0-9]+$ ]] || usage
per_round=$(((runs + rounds - 1) / rounds)) runs_done=$((per_round * rounds))

die() { echo "run.sh: $*" >&2; exit 1; }
build=$(cd "$build" 2>/dev/null && pwd) || die "no build directory (give --build-dir or VC_BUILD_DIR)"
vc=$build/virtconverge floor=$build/bench/vc_bench_floor
[ -x "$vc" ] || die "$vc is not built (cd $build && ninja)"
[ -x "$floor" ] || die "$floor is not built (cd $build && ninja vc_bench_floor)"
for tool in hyperfine python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/install-deps.sh installs it)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vcb-bench.XXXXXX")
# hyperfine runs the commands without a shell (-N), so their paths must not contain blanks.
case "$build$work" in *[[:space:]]*) die "the build and temporary paths must not contain blanks" ;; esac
results=${out:-$work/results}
mkdir -p "$results"

# Undefines the named domains of the real libvirtd that exist (stopping any that run).
remove_domains() {
  local name status=0
  for name in "$@"; do
    virsh -q -c "$uri" dominfo "$name" >/dev/null 2>&1 || continue
    if [ "$(virsh -q -c "$uri" domstate "$name" 2>/dev/null)" != "shut off" ]; then
      virsh -q -c "$uri" destroy "$name" >/dev/null 2>&1 || true
    fi
    virsh -q -c "$uri" undefine "$name" >/dev/null || status=1
  done
  return "$status"
}

created=0  # the highest N of vcb-d1..vcb-dN that may exist on the real libvirtd
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local status=$? i names=()
  if [ "$created" -gt 0 ]; then
    echo "== removing vcb-d1..vcb-d$created from $uri" >&2
    for ((i = 1; i <= created; i++)); do names+=("vcb-d$i"); done
    remove_domains "${names[@]}" || status=1
  fi
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
    hyperfine -N --style basic --warmup "$warmup" --runs "$per_round" \
      --export-json "$results/$label.round$round.json" \
      --export-markdown "$results/$label.round$round.md" "${order[@]}" >&2
  done
  python3 - "$results/$label.json" "$results/$label".round*.json <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], sys.argv[2:]
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
    "| ratio of minima | plan user+sys (ms) | floor user+sys (ms) | ratio of CPU |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
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
        f"| {cpu_p * 1e3:.1f} | {cpu_f * 1e3:.1f} | {cpu_p / cpu_f:.2f}× |")
table = "\n".join(lines) + "\n"
open(f"{results}/table.md", "w").write(table)
print(f"\nNo-op plan vs floor ({runs} runs each in {rounds} round(s), {warmup} warm-up(s) a round; "
      "target: plan within 1.5x of the floor)")
print(table)
print(f"Every plan was a no-op. Ratio of means above 1.5x: {missed} of {len(labels)} row(s).")
PY
[ -n "$out" ] && echo "Results kept in $out"
exit 0
