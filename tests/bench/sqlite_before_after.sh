#!/usr/bin/env bash
# tests/bench/sqlite_before_after.sh: is daybookd on SQLite slower since its store went
# behind the backend table (server/store/backend.h, issue 18)?
#
#   tests/bench/sqlite_before_after.sh [REF [PAIRS [AFTER]]]
#
# REF defaults to the last commit before backend.h arrived (the parent of the commit
# that added it); PAIRS (default 3) is how many times both are measured; AFTER, when
# given, is measured instead of this tree (to tell which commit changed a figure). Builds
# RelWithDebInfo of this tree into build-bench/ and of REF, checked out in a temporary
# git worktree (removed at the end), into build-bench/before/. Then, PAIRS times and
# in alternating order (so a machine that slows down during the run favours neither):
#   bench_ceilings of each commit  its store's push and pull (dbk_store_push/pull, no
#                                  HTTP) as shares of the raw SQLite insert and select
#                                  ceilings measured in the same process, and
#                                  one record a push with the streams interleaved
#                                  and the pull of those (a layout's locality)
#   bench_load (this tree's)       against each commit's daybookd on SQLite, daybookd
#                                  alone: push, pull, incremental sync
# and prints, for every figure, after/before per pair and its median. Ratios, not
# absolutes: the machine is shared and absolute figures drift by a third. Not a test:
# never in ctest or .ci/run, and nothing it finds fails anything.
set -uo pipefail
if [ $# -gt 3 ]; then
    echo "usage: tests/bench/sqlite_before_after.sh [REF [PAIRS [AFTER]]]" >&2
    exit 2
fi
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
added=$(git log --diff-filter=A --format=%H -- server/store/backend.h | tail -n 1)
ref=$(git rev-parse --verify "${1:-$added^}^{commit}") || exit 2
pairs=${2:-3}
after_ref=${3:-}
build=build-bench
out=$build/before-after
src=$build/before-src
after_src=$build/after-src
after_build=$build # this tree, unless AFTER names a commit
mkdir -p "$out"
say() { printf 'before-after: %s\n' "$*" >&2; }

cleanup() {
    git worktree remove --force "$src" >/dev/null 2>&1
    [ -n "$after_ref" ] && git worktree remove --force "$after_src" >/dev/null 2>&1
    rm -rf "$out/scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

jobs=$(nproc 2>/dev/null || echo 2)
say "building this tree into $build/"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/cmake-after.log" 2>&1 &&
    cmake --build "$build" -j "$jobs" --target daybookd bench_load bench_ceilings \
        >"$out/build-after.log" 2>&1 || { say "build failed: $out/build-after.log"; exit 1; }
say "building $(git log --oneline -1 "$ref") into $build/before/"
rm -rf "$src"
git worktree prune
git worktree add --detach "$src" "$ref" >"$out/worktree.log" 2>&1 &&
    cmake -S "$src" -B "$build/before" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        >"$out/cmake-before.log" 2>&1 &&
    cmake --build "$build/before" -j "$jobs" --target daybookd bench_ceilings \
        >"$out/build-before.log" 2>&1 || { say "build of $ref failed: $out/*-before.log"; exit 1; }

after_name="$(git log --oneline -1 HEAD) (this tree)"
if [ -n "$after_ref" ]; then
    after_ref=$(git rev-parse --verify "$after_ref^{commit}") || exit 2
    after_name=$(git log --oneline -1 "$after_ref")
    after_build=$build/after
    say "building $after_name into $after_build/"
    rm -rf "$after_src"
    git worktree prune
    git worktree add --detach "$after_src" "$after_ref" >>"$out/worktree.log" 2>&1 &&
        cmake -S "$after_src" -B "$after_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
            >"$out/cmake-after-ref.log" 2>&1 &&
        cmake --build "$after_build" -j "$jobs" --target daybookd bench_ceilings \
            >"$out/build-after-ref.log" 2>&1 || { say "build of $after_ref failed"; exit 1; }
fi

# measure WHICH N: one bench_ceilings and one bench_load of WHICH (before, after).
measure() {
    local which=$1 n=$2 dir
    [ "$which" = after ] && dir=$after_build || dir=$build/before
    say "pair $n: $which"
    rm -rf "$out/scratch"
    mkdir -p "$out/scratch"
    timeout 600 "$dir/tests/bench/bench_ceilings" --out "$out/ceilings-$which-$n.json" \
        >"$out/ceilings-$which-$n.log" 2>&1 || say "bench_ceilings $which failed (see log)"
    timeout 600 "$build/tests/bench/bench_load" --work "$root/$out/scratch" \
        --out "$out/load-$which-$n.json" --daybookd "$dir/server/daybookd" \
        >"$out/load-$which-$n.log" 2>&1 || say "bench_load $which failed (see log)"
}
rm -f "$out"/ceilings-*.json "$out"/load-*.json # a part that fails shows as n/a
for n in $(seq 1 "$pairs"); do
    if [ $((n % 2)) -eq 1 ]; then
        measure before "$n"
        measure after "$n"
    else
        measure after "$n"
        measure before "$n"
    fi
done

node - "$out" "$pairs" "$(git log --oneline -1 "$ref")" "$after_name" <<'EOF'
const fs = require("fs");
const [dir, pairs, before, after] = process.argv.slice(2);
const read = (f) => { try { return JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8")); } catch { return null; } };
const val = (j, k) => { const r = j && j.rows.find((r) => r.key === k); return r ? r.value : NaN; };
// [label, file, value of one run, true when higher is better]
const figures = [
    ["store push, share of SQLite's insert ceiling (bench_ceilings)", "ceilings",
        (j) => val(j, "store_push_rows_per_s") / val(j, "sqlite_insert_rows_per_s")],
    ["store pull, share of SQLite's select ceiling (bench_ceilings)", "ceilings",
        (j) => val(j, "store_pull_rows_per_s") / val(j, "sqlite_select_rows_per_s")],
    ["store push, rows/s (bench_ceilings)", "ceilings", (j) => val(j, "store_push_rows_per_s")],
    ["store pull, rows/s (bench_ceilings)", "ceilings", (j) => val(j, "store_pull_rows_per_s")],
    ["store push, one record a push, streams interleaved, rows/s (bench_ceilings)", "ceilings",
        (j) => val(j, "store_push1_rows_per_s")],
    ["store pull of those interleaved rows, rows/s (bench_ceilings)", "ceilings",
        (j) => val(j, "store_pull_interleaved_rows_per_s")],
    ["push over HTTP, records/s (bench_load)", "load", (j) => val(j, "daybook_push_records_per_s")],
    ["pull over HTTP, records/s (bench_load)", "load", (j) => val(j, "daybook_pull_records_per_s")],
    ["incremental sync p50, ms (bench_load; lower is better)", "load", (j) => val(j, "daybook_sync_p50_ms")],
    ["syncs/s completed meanwhile (bench_load)", "load", (j) => val(j, "daybook_sync_per_s")],
];
const fmt = (x) => Number.isFinite(x) ? x.toFixed(2) : "n/a";
const lines = [`before: ${before}`, `after:  ${after}`, "",
    "| figure | after/before, each pair | median |", "| --- | --- | ---: |"];
for (const [label, part, f] of figures) {
    const r = [];
    for (let n = 1; n <= Number(pairs); n++)
        r.push(f(read(`${part}-after-${n}.json`)) / f(read(`${part}-before-${n}.json`)));
    const ok = r.filter(Number.isFinite).sort((a, b) => a - b);
    const med = ok.length ? (ok.length % 2 ? ok[(ok.length - 1) / 2]
        : (ok[ok.length / 2 - 1] + ok[ok.length / 2]) / 2) : NaN;
    lines.push(`| ${label} | ${r.map(fmt).join(", ")} | ${fmt(med)} |`);
}
const text = lines.join("\n") + "\n";
fs.writeFileSync(`${dir}/results.md`, text);
process.stdout.write(text);
EOF
