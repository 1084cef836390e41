#!/usr/bin/env bash
# Builds the fuzz targets with clang (libFuzzer + ASan + UBSan) in build-fuzz/ and runs
# each for a bounded time from its seed corpus and dictionary, as many at once as
# there are cores.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]      # default 20
#
# Environment:
#   DBK_FUZZ_TARGETS    the targets to run (default: all eight, in the order below)
#   DBK_FUZZ_BUILD_DIR  the build directory (default build-fuzz)
#   DBK_FUZZ_OUT        where logs, new corpus entries and crash inputs go (default: a
#                       temporary directory, removed when every target passed)
#
# New corpus entries never go into the repository. A crash, leak, timeout or failed
# invariant fails the run; its input is printed in hex and kept in DBK_FUZZ_OUT.
# Prints one line per target (executions, rate, new entries) and ends with
# "N passed, M failed"; exits non-zero if any target failed. The run's figures go to
# $DBK_FUZZ_BUILD_DIR/reliability.jsonl for README's Reliability table.
set -uo pipefail
cd "$(dirname "$0")/../.."

secs=${1:-20}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac
build=${DBK_FUZZ_BUILD_DIR:-build-fuzz}
targets=${DBK_FUZZ_TARGETS:-fuzz_http fuzz_json_body fuzz_envelope fuzz_base64 fuzz_bundle fuzz_grant fuzz_local fuzz_answer}
flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

command -v clang >/dev/null || { echo "run.sh: clang is required (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

echo "== configuring $build (clang, libFuzzer, ASan, UBSan)"
cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DDAYBOOK_FUZZ=ON -DCMAKE_C_FLAGS="$flags" >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; exit 2; }
rm -f "$build.configure.log"
# shellcheck disable=SC2086 # a list of targets
cmake --build "$build" -j "$(nproc)" --target $targets >/dev/null ||
    { cmake --build "$build" -j 1 --target $targets >&2; exit 2; }

out=${DBK_FUZZ_OUT:-}
keep_out=1
if [ -z "$out" ]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/daybook-fuzz.XXXXXX")
    keep_out=0
fi
mkdir -p "$out"

# libFuzzer handles crashes itself; these make every sanitizer report one.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

lf_stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

# One target's run: its log, exit code and seconds in $out/$t/.
fuzz_one() {
    local t=$1 dir="$out/$1" start rc
    mkdir -p "$dir/new"
    local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
                -artifact_prefix="$dir/")
    [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
    start=$(date +%s)
    # The first directory receives new entries; the seeds are only read.
    "$build/tests/fuzz/$t" "${args[@]}" "$dir/new" "tests/fuzz/corpus/$t" >"$dir/log" 2>&1
    rc=$?
    echo "$rc" >"$dir/rc"
    echo $(( $(date +%s) - start )) >"$dir/took"
}

# As many targets at once as there are cores (each libFuzzer run is one process on one
# core), so the run takes secs x targets / cores; reported below in the usual order.
jobs=$(nproc)
running=0
echo "== fuzzing each target for ${secs}s, $jobs at a time (output in $out)"
for t in $targets; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
    fuzz_one "$t" &
    running=$((running + 1))
done
wait

passed=0
failed=0
summary=""
for t in $targets; do
    dir="$out/$t"
    rc=$(cat "$dir/rc" 2>/dev/null || echo 99)
    took=$(cat "$dir/took" 2>/dev/null || echo "?")
    execs=$(lf_stat number_of_executed_units "$dir/log")
    rate=$(lf_stat average_exec_per_sec "$dir/log")
    added=$(find "$dir/new" -type f | wc -l)
    summary="$summary${summary:+, }${t#fuzz_} ${execs:-?}"
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf '%-16s ok      %10s execs  %7s/s  %4s new  %3ss\n' "$t" "${execs:-?}" "${rate:-?}" \
            "$added" "$took"
    else
        failed=$((failed + 1))
        printf '%-16s FAILED  %10s execs  %7s/s  exit %s\n' "$t" "${execs:-?}" "${rate:-?}" "$rc"
        echo "---- $t: end of log ($dir/log)"
        grep -v '^#[0-9]' "$dir/log" | tail -60
        for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* "$dir"/slow-unit-*; do
            [ -f "$a" ] || continue
            echo "---- $t: input $a ($(wc -c <"$a") bytes), hex:"
            od -An -v -tx1 "$a" | tr -d ' \n' | head -c 4096
            echo
        done
        keep_out=1
    fi
done

[ "$keep_out" -eq 0 ] && rm -rf "$out"
echo "$passed passed, $failed failed"
# README's Reliability row for this run (tests/reliability/render.mjs reads it).
n=$((passed + failed))
printf '{"what":"fuzzing","how":"%s libFuzzer targets under ASan + UBSan, %ss each from the seed corpora","result":"inputs run: %s; targets failed: %s"}\n' \
    "$n" "$secs" "$summary" "$failed" >"$build/reliability.jsonl"
[ "$failed" -eq 0 ]
