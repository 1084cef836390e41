#!/usr/bin/env bash
# integration.pg_module: the PostgreSQL backend is a module daybookd loads only for a
# postgresql:// store (server/store/store.c), so a SQLite server never maps libpq and
# what it drags in (issue 20: idle RSS). Checks, without a database:
#   - daybookd does not link libpq; the module does;
#   - daybookd serving SQLite has no libpq, libssl or libcrypto mapped;
#   - a copy of daybookd without its module, given a postgresql:// store, exits 2
#     naming the module and the package to install, and creates nothing;
#   - a module whose libpq is missing: exit 2, naming libpq; one of another version:
#     exit 2, refused;
#   - the build's daybookd loads its module (every symbol resolved, RTLD_NOW) and only
#     then meets a database that is not there: exit 1, "cannot be reached".
# Needs readelf (binutils) and curl; without them it skips (77).
set -euo pipefail

daybookd=${DAYBOOKD:?DAYBOOKD: the daybookd binary}
module=${DAYBOOK_PG_MODULE:?DAYBOOK_PG_MODULE: daybookd-postgresql.so}
for tool in readelf curl; do
    command -v "$tool" >/dev/null || { echo "pg_module: skipped: no $tool" >&2; exit 77; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/daybook-pgmod.XXXXXX")
srv=
cleanup() {
    if [ -n "$srv" ]; then
        kill "$srv" 2>/dev/null || true
        wait "$srv" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "pg_module: FAILED: $*" >&2
    for f in "$work"/*.log; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}
ok() { echo "ok - $*"; }
# A URL no database answers: the connection is refused at once.
nowhere='postgresql://daybook@127.0.0.1:1/none?connect_timeout=5'

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
needed "$daybookd" >"$work/needed.log"
grep -q '^libpq\.' "$work/needed.log" && fail "daybookd links libpq"
needed "$module" | grep -q '^libpq\.' || fail "the module does not link libpq"
ok "daybookd does not link libpq; ${module##*/} does"

# SQLite: nothing of PostgreSQL's in the address space.
"$daybookd" serve --listen 127.0.0.1:0 --data-dir "$work/data" --port-file "$work/port" \
    >"$work/serve.log" 2>&1 &
srv=$!
for _ in $(seq 1 100); do
    [ -s "$work/port" ] && break
    sleep 0.1
done
[ -s "$work/port" ] || fail "daybookd did not start on SQLite"
curl -sf --max-time 10 "http://127.0.0.1:$(cat "$work/port")/healthz" >/dev/null ||
    fail "/healthz on SQLite"
cp "/proc/$srv/maps" "$work/maps.log"
grep -E '/(libpq|libssl|libcrypto|daybookd-postgresql)[.-]' "$work/maps.log" &&
    fail "daybookd on SQLite maps PostgreSQL's libraries"
kill "$srv"
wait "$srv" || fail "daybookd did not exit 0 on SIGTERM"
srv=
ok "daybookd serving SQLite maps no libpq, libssl, libcrypto or module"

# A copy of daybookd alone: the module is neither beside it nor in ../lib/daybook.
mkdir "$work/bare"
cp "$daybookd" "$work/bare/daybookd"
expect_missing() { # LABEL EXPECTED_TEXT COMMAND...
    local label=$1 want=$2 rc=0
    shift 2
    "$@" >"$work/out.log" 2>&1 || rc=$?
    [ "$rc" = 2 ] || fail "$label: exit $rc, want 2 ($(cat "$work/out.log"))"
    grep -qF "$want" "$work/out.log" || fail "$label: no '$want' in: $(cat "$work/out.log")"
}
expect_missing "serve without the module" "install the daybookd-postgresql package" \
    "$work/bare/daybookd" serve --listen 127.0.0.1:0 --data-dir "$work/bare/data" --store "$nowhere"
grep -qF "daybookd-postgresql.so" "$work/out.log" || fail "the message does not name the module"
[ -e "$work/bare/data" ] && fail "serve without the module created its data directory"
expect_missing "check without the module" "install the daybookd-postgresql package" \
    "$work/bare/daybookd" check --store "$nowhere"
expect_missing "restore without the module" "install the daybookd-postgresql package" \
    "$work/bare/daybookd" restore "$work/none.dump" --store "$nowhere"
ok "without its module: exit 2, '$(head -c 160 "$work/out.log")...'"

# The module beside it, but the libpq it needs is not on this machine (its NEEDED
# entry renamed to a library no system has, the same length).
perl -pe 's/libpq\.so\.5/libpq.so.Q/g' "$module" >"$work/bare/daybookd-postgresql.so"
needed "$work/bare/daybookd-postgresql.so" | grep -qx 'libpq.so.Q' ||
    fail "could not make a module without its libpq"
expect_missing "module without libpq" "install libpq (Debian: libpq5)" \
    "$work/bare/daybookd" check --store "$nowhere"
ok "module without libpq: exit 2, '$(head -c 160 "$work/out.log")...'"

# A module of another version (its version string changed, the same length): refused,
# exit 2, naming the version to install.
ver=$("$daybookd" --version | sed -n 's/^daybookd \([^ ]*\).*/\1/p')
other=$(tr '0-9' '9876543210' <<<"$ver")
VER=$ver OTHER=$other perl -pe 's/\Q$ENV{VER}\E\0/$ENV{OTHER}\0/g' "$module" \
    >"$work/bare/daybookd-postgresql.so"
expect_missing "module of another version" "version $other, want $ver" \
    "$work/bare/daybookd" check --store "$nowhere"
ok "module of version $other: exit 2, '$(head -c 160 "$work/out.log")...'"

# The build's own module loads; the database is what is missing.
rc=0
"$daybookd" check --store "$nowhere" >"$work/out.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "check on an absent database: exit $rc, want 1 ($(cat "$work/out.log"))"
grep -q "cannot be reached" "$work/out.log" || fail "check on an absent database: $(cat "$work/out.log")"
ok "the module loads (every symbol resolved); an absent database is exit 1"

echo "pg_module: all checks passed"
