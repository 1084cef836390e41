#!/usr/bin/env bash
# CI's first step (issue: a fresh machine runs the server with the README's first
# command). Builds and starts daybookd exactly as scripts/serve.sh does, but with the
# test-only packages invisible: pkg-config sees every .pc file of this machine except
# those of the test packages (cmocka), so the step fails the day the server's build
# needs a test package. Then checks /healthz and stops the server.
# Usage: scripts/ci-serve-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh # the build packages only, as serve.sh installs them
tmp=$(mktemp -d)
server=
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server"
        wait "$server" || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# A pkg-config search path without the test packages.
mkdir "$tmp/pc"
for dir in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
    [ -d "$dir" ] || continue
    for pc in "$dir"/*.pc; do
        [ -e "$pc" ] || continue
        case ${pc##*/} in cmocka.pc) continue ;; esac
        [ -e "$tmp/pc/${pc##*/}" ] || ln -s "$pc" "$tmp/pc/${pc##*/}"
    done
done
export PKG_CONFIG_LIBDIR=$tmp/pc PKG_CONFIG_PATH=
if pkg-config --exists cmocka; then
    echo "ci-serve-check: cmocka is still visible to pkg-config" >&2
    exit 1
fi

DAYBOOK_NO_DEPS=1 DAYBOOK_BUILD_DIR=$tmp/build DAYBOOK_SERVE_DATA=$tmp/data \
    scripts/serve.sh --listen 127.0.0.1:0 --port-file "$tmp/port" >"$tmp/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do # the build comes first: up to 5 minutes on 2 cores
    [ -s "$tmp/port" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$tmp/serve.log" >&2; echo "ci-serve-check: serve.sh failed" >&2; exit 1; }
    sleep 0.5
done
[ -s "$tmp/port" ] || { cat "$tmp/serve.log" >&2; echo "ci-serve-check: daybookd never listened" >&2; exit 1; }
# bash's /dev/tcp, not curl: curl is a test package, and a fresh machine may not have it.
exec 3<>"/dev/tcp/127.0.0.1/$(cat "$tmp/port")"
printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3
health=$(cat <&3)
exec 3<&-
case $health in
'HTTP/1.1 200'*'"status":"ok"'*)
    echo "ci-serve-check: serve.sh built and ran daybookd without the test packages: ${health##*$'\r\n'}" ;;
*) echo "ci-serve-check: /healthz answered $health" >&2; exit 1 ;;
esac
