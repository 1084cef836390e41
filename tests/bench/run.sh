#!/usr/bin/env bash
# tests/bench/run.sh: every benchmark of issue 8 in one run, one table.
#
#   tests/bench/run.sh [--readme]
#   tests/bench/run.sh --growth [bench_growth options]
#
# --readme also rewrites the table in README.md's "Performance" section.
# --growth runs only bench_growth (issue 20: one account grown to 10k, 100k and 1M
# records, the server to 10, 1,000 and 10,000 accounts; on SQLite, and on PostgreSQL
# with 1 and 2 nodes when a throwaway cluster starts) and writes
# build-bench/growth/growth.{json,md,svg}; options after it go to bench_growth
# (e.g. --records 10000,100000,300000 on a slow machine, --backends sqlite);
# DAYBOOK_BENCH_PG_STATEMENTS=1 loads pg_stat_statements in its cluster.
# Builds RelWithDebInfo into build-bench/ (never build/), installs the peer
# (pouchdb-server, pinned by tests/bench/peer/package-lock.json) into
# build-bench/peer/ with npm ci, then runs:
#   bench_load      Daybook, the peer and a trivial HTTP responder under one workload,
#                   and daybookd on PostgreSQL (1 node, 2 nodes) when a throwaway
#                   cluster starts (tests/support/pg_cluster.sh, postgresql-15)
#   bench_ceilings  SQLite and libsodium ceilings
#   bench_client    a counselor's cold sync and review, `daybook craving`
# and prints one table (tests/bench/report.mjs), also written to
# build-bench/bench/results.json and results.md. A part that cannot be built or
# fails is reported as such; the others still run. Benchmarks are not tests: this
# script is not part of ctest or .ci/run, and a missed target does not fail it.
# Every server binds 127.0.0.1 and dies with its generator; every step is bounded.
set -uo pipefail
if [ "${1:-}" = --growth ]; then
    shift
    root=$(cd "$(dirname "$0")/../.." && pwd)
    cd "$root"
    mkdir -p build-bench/growth
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
        cmake --build build-bench -j "$(nproc 2>/dev/null || echo 2)" \
            --target daybookd bench_growth >build-bench/growth/build.log 2>&1 || {
        echo "bench: build failed; see build-bench/growth/build.log" >&2
        exit 1
    }
    rm -rf build-bench/growth/scratch
    # PostgreSQL beside SQLite (1 and 2 nodes) when a throwaway cluster starts, with
    # fsync on, as for bench_load below.
    pg_state=$root/build-bench/growth/pg-cluster
    pg_args=()
    if TMPDIR=/tmp bash tests/support/pg_cluster.sh start "$pg_state" \
        >build-bench/growth/pg.log 2>&1; then
        pg_dir=$(cat "$pg_state")
        psql "postgresql:///postgres?host=$pg_dir/sock&user=daybook" -q \
            -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET full_page_writes = on" \
            -c "SELECT pg_reload_conf()" >>build-bench/growth/pg.log 2>&1
        # What each nothing-new sync runs in the database (statements, COMMITs,
        # blocks, WAL records), printed by bench_growth; off by default, as the
        # extension adds its own cost to every statement.
        if [ "${DAYBOOK_BENCH_PG_STATEMENTS:-0}" = 1 ]; then
            psql "postgresql:///postgres?host=$pg_dir/sock&user=daybook" -q \
                -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" \
                >>build-bench/growth/pg.log 2>&1 &&
                bash tests/support/pg_cluster.sh restart "$pg_state" >>build-bench/growth/pg.log 2>&1
        fi
        pg_args=(--pg-dir "$pg_dir" --psql "$(command -v psql)")
    else
        echo "bench: no PostgreSQL cluster (see build-bench/growth/pg.log); SQLite only" >&2
    fi
    trap 'bash tests/support/pg_cluster.sh stop "$pg_state" >/dev/null 2>&1' EXIT
    timeout --kill-after=10 10800 build-bench/tests/bench/bench_growth \
        --work build-bench/growth/scratch --out-dir build-bench/growth \
        --daybookd build-bench/server/daybookd "${pg_args[@]}" "$@"
    exit $?
fi
if [ $# -gt 1 ] || { [ $# -eq 1 ] && [ "$1" != --readme ]; }; then
    echo "usage: tests/bench/run.sh [--readme]" >&2
    exit 2
fi

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=build-bench
out=$build/bench
peer=$build/peer
mkdir -p "$out"
rm -rf "$out/scratch" "$out/tmp"
mkdir -p "$out/scratch" "$out/tmp"
export TMPDIR="$root/$out/tmp" # the parts' temp dirs, on the disk being measured

# The part running now; killed (with its servers, through PR_SET_PDEATHSIG) if
# this script is interrupted.
child=
cleanup() {
    if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
        kill -TERM "$child" 2>/dev/null
        sleep 1
        kill -KILL "$child" 2>/dev/null
    fi
    [ -n "${pg_state:-}" ] && [ -f "$pg_state" ] &&
        bash "$root/tests/support/pg_cluster.sh" stop "$pg_state" >/dev/null 2>&1
    rm -rf "$root/$out/tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A status
say() { printf 'bench: %s\n' "$*" >&2; }

# run NAME SECONDS COMMAND...: runs one part in the background (so the trap can stop
# it), bounded by timeout; its output goes to $out/NAME.log.
run() {
    local name=$1 secs=$2
    shift 2
    say "running $name (at most ${secs}s; log: $out/$name.log)"
    timeout --kill-after=10 "$secs" "$@" >"$out/$name.log" 2>&1 &
    child=$!
    wait "$child"
    local rc=$?
    child=
    if [ "$rc" -eq 0 ]; then
        status[$name]=ok
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        status[$name]="timed out after ${secs}s (see $out/$name.log)"
    else
        status[$name]="failed, exit $rc (see $out/$name.log): $(tail -n 1 "$out/$name.log")"
    fi
    return "$rc"
}

# ---- build ----
say "building RelWithDebInfo into $build/"
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$out/cmake.log" 2>&1; then
    say "cmake failed; see $out/cmake.log"
    tail -n 20 "$out/cmake.log" >&2
    exit 1
fi
jobs=$(nproc 2>/dev/null || echo 2)
if ! cmake --build "$build" -j "$jobs" --target daybookd daybook bench_load bench_trivial \
    >"$out/build.log" 2>&1; then
    say "build failed; see $out/build.log"
    tail -n 20 "$out/build.log" >&2
    exit 1
fi
# The other parts are built on their own, so one that does not build yet does not
# stop the rest.
for b in bench_ceilings bench_client; do
    if cmake --build "$build" -j "$jobs" --target "$b" >"$out/build-$b.log" 2>&1; then
        status[$b]=built
    else
        status[$b]="not built (see $out/build-$b.log)"
    fi
done

# ---- the peer ----
peer_bin=$peer/node_modules/.bin/pouchdb-server
if [ -x "$peer_bin" ] && cmp -s tests/bench/peer/package-lock.json "$peer/package-lock.json"; then
    say "peer already installed in $peer/"
    status[peer]=ok
else
    say "installing the peer into $peer/ (npm ci, pinned by tests/bench/peer/package-lock.json)"
    rm -rf "$peer"
    mkdir -p "$peer"
    cp tests/bench/peer/package.json tests/bench/peer/package-lock.json "$peer/"
    if timeout 600 npm ci --prefix "$peer" --no-audit --no-fund >"$out/npm.log" 2>&1 &&
        [ -x "$peer_bin" ]; then
        status[peer]=ok
    else
        status[peer]="not installed (npm ci failed; see $out/npm.log)"
        rm -f "$peer/package-lock.json" # so the next run tries again
    fi
fi
# Its default storage is LevelDB through leveldown's prebuilt native module; say so
# if that module does not load, since the peer would then not start.
if [ "${status[peer]}" = ok ] &&
    ! (cd "$peer" && node -e "require('leveldown')") >"$out/leveldown.log" 2>&1; then
    status[peer]="installed, but leveldown (its default storage) does not load: $(tail -n 1 "$out/leveldown.log")"
fi

# ---- PostgreSQL: a throwaway cluster (tests/support/pg_cluster.sh), two databases ----
pg_state=$root/$out/pg-cluster
pg_urls=()
if TMPDIR=/tmp bash tests/support/pg_cluster.sh start "$pg_state" >"$out/pg.log" 2>&1; then
    pg_dir=$(cat "$pg_state")
    # The test cluster skips fsync; a benchmark against SQLite's durable commits must not.
    psql "postgresql:///postgres?host=$pg_dir/sock&user=daybook" -q \
        -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET full_page_writes = on" \
        -c "SELECT pg_reload_conf()" >>"$out/pg.log" 2>&1
    for db in bench1 bench2; do
        if psql "postgresql:///postgres?host=$pg_dir/sock&user=daybook" -q \
            -c "CREATE DATABASE $db" >>"$out/pg.log" 2>&1; then
            pg_urls+=("postgresql:///$db?host=$pg_dir/sock&user=daybook")
        fi
    done
    status[postgresql]=ok
else
    status[postgresql]="not started (see $out/pg.log)"
fi
stop_pg() { [ -f "$pg_state" ] && bash tests/support/pg_cluster.sh stop "$pg_state" >/dev/null 2>&1; }

# ---- the parts ----
load_args=(--work "$root/$out/scratch/load" --out "$out/load.json"
    --daybookd "$root/$build/server/daybookd" --trivial "$root/$build/tests/bench/bench_trivial")
[ "${status[peer]}" = ok ] && load_args+=(--peer "$root/$peer_bin")
[ "${#pg_urls[@]}" -eq 2 ] && load_args+=(--pg-url "${pg_urls[0]}" --pg-url2 "${pg_urls[1]}")
rm -f "$out/load.json" "$out/ceilings.json" "$out/client.json"
run bench_load 1500 "$build/tests/bench/bench_load" "${load_args[@]}"
rm -rf "$out/scratch/load" # the servers' data: measured, no longer needed
stop_pg

if [ "${status[bench_ceilings]}" = built ]; then
    run bench_ceilings 600 "$build/tests/bench/bench_ceilings" --out "$out/ceilings.json"
fi
if [ "${status[bench_client]}" = built ]; then
    run bench_client 900 "$build/tests/bench/bench_client" --daybookd "$build/server/daybookd" \
        --daybook "$build/client/daybook" --out "$out/client.json"
fi

# ---- the table ----
peer_version=$(node -p "require('./$peer/node_modules/pouchdb-server/package.json').version" \
    2>/dev/null || echo "not installed")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
mem=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit with local changes"
parts_json=$(for k in peer postgresql bench_load bench_ceilings bench_client; do
    printf '%s\0%s\0' "$k" "${status[$k]:-not run}"
done | node -e '
    const a = require("fs").readFileSync(0, "utf8").split("\0"); const o = {};
    for (let i = 0; i + 1 < a.length; i += 2) o[a[i]] = a[i + 1] === "built" ? "built, not run" : a[i + 1];
    process.stdout.write(JSON.stringify(o));')
node -e '
    const [date, commit, machine, nodev, peer, parts] = process.argv.slice(1);
    process.stdout.write(JSON.stringify({date, commit, build: "RelWithDebInfo", machine,
        node: nodev, peer_version: peer, parts: JSON.parse(parts)}, null, 1));' \
    "$(date -u +%Y-%m-%d)" "$commit" "$(nproc) cores ($cpu), $mem" "$(node --version)" \
    "$peer_version" "$parts_json" >"$out/meta.json"

readme=()
[ "${1:-}" = --readme ] && readme=(--readme README.md)
node tests/bench/report.mjs --meta "$out/meta.json" --load "$out/load.json" \
    --ceilings "$out/ceilings.json" --client "$out/client.json" \
    --json "$out/results.json" --md "$out/results.md" "${readme[@]}"
say "written: $out/results.json and $out/results.md"
