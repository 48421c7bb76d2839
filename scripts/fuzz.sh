#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang++, ASan and UBSan into build-fuzz/ (Ninja, 2
# jobs, ccache when present) and runs each for SECONDS (default 60) on a copy of its seed corpus
# (fuzz/corpus/<target>/, never written to) with its dictionary. Fails when any run finds a crash,
# a leak, a sanitizer report, a timeout (-timeout=10 per input) or more than 2048 MB of memory;
# the input is then in build-fuzz/artifacts/<target>/ (rerun: build-fuzz/fuzz/<target> <file>).
# Prints, per target: executions, seconds, executions per second, corpus files before and after,
# peak RSS and the slowest input's time.
# Registered as the ctest test `fuzz_short` (30 s each). Needs clang and libclang-rt-14-dev
# (scripts/install-deps.sh). See docs/reliability.md.
#   scripts/fuzz.sh                              # every target, 60 s each
#   scripts/fuzz.sh 30 document_fuzzer           # one target, 30 s
#   FUZZ_RUNS=10000000 scripts/fuzz.sh 0         # every target, 10 million executions each
#   FUZZ_KEEP=/tmp/corpora scripts/fuzz.sh 600   # keep the grown corpora there
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(document_fuzzer serve_request_fuzzer saved_plan_fuzzer api_request_fuzzer)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
cxx=${FUZZ_CXX:-clang++}

if ! command -v "$cxx" >/dev/null; then
  echo "fuzz: $cxx not found (scripts/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
# Warnings are not errors here: this is another compiler than the one the project's -Werror is
# kept clean for, and the build is only a vehicle for the fuzzers.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$cxx" \
  -DVIRTCONVERGE_FUZZ=ON -DVIRTCONVERGE_WERROR=OFF -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "${JOBS:-2}" --target "${targets[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/vc-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }  # -print_final_stats=1

failed=()
for t in "${targets[@]}"; do
  name=${t%_fuzzer}
  corpus="$work/$name"
  artifacts="$build/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  cp fuzz/corpus/"$name"/* "$corpus"/
  before=$(find "$corpus" -type f | wc -l)
  args=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/")
  [ -f "fuzz/$name.dict" ] && args+=(-dict="fuzz/$name.dict")
  if [ -n "${FUZZ_RUNS:-}" ]; then
    args+=(-runs="$FUZZ_RUNS")
    budget="$FUZZ_RUNS executions"
  else
    args+=(-max_total_time="$seconds")
    budget="$seconds s"
  fi
  log="$work/$t.log"
  echo "fuzz: $t for $budget, $before seed file(s)"
  start=$(date +%s)
  status=0
  "$build/fuzz/$t" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?
  elapsed=$(($(date +%s) - start))
  runs=$(final_stat number_of_executed_units)
  after=$(find "$corpus" -type f | wc -l)
  echo "fuzz: $t: ${runs:-?} executions in $elapsed s ($((${runs:-0} / (elapsed > 0 ? elapsed : 1))) exec/s), corpus $before -> $after file(s), peak RSS $(final_stat peak_rss_mb) MB, slowest input $(final_stat slowest_unit_time_sec) s, exit $status"
  if [ -n "${FUZZ_KEEP:-}" ]; then
    mkdir -p "$FUZZ_KEEP/$name"
    cp "$corpus"/* "$FUZZ_KEEP/$name"/
  fi
  if [ "$status" -ne 0 ]; then
    cp "$log" "$artifacts/last.log"
    grep -E '^(==[0-9]+==|SUMMARY|.*runtime error|.*fuzzer: |artifact_prefix|Test unit written)' \
      "$log" | head -40 >&2 || true
    echo "fuzz: $t FAILED (log: $artifacts/last.log)" >&2
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s), no crash, leak or timeout"
