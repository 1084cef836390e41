#!/usr/bin/env bash
# Installs what is missing, builds daybookd (and the daybook CLI, without the tests),
# and runs daybookd on 127.0.0.1:8470 with its embedded SQLite store. Arguments go
# to `daybookd serve` (for example --listen 127.0.0.1:9000). Stop it with Ctrl-C.
#
# The data lives outside the checkout: $DAYBOOK_SERVE_DATA, else
# $XDG_DATA_HOME/daybookd (~/.local/share/daybookd), created mode 0700.
# DAYBOOK_BUILD_DIR (default build-serve) is the build directory; DAYBOOK_NO_DEPS=1
# skips the package check (CI uses it after hiding the test packages).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${DAYBOOK_NO_DEPS:-}" != 1 ]; then
    scripts/deps.sh
fi
build=${DAYBOOK_BUILD_DIR:-build-serve}
data=${DAYBOOK_SERVE_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/daybookd}
# Only what runs: no tests, so no test-only package is needed (issue: a fresh
# machine must not need cmocka or Node.js to serve).
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target daybookd daybook >/dev/null
mkdir -p -m 0700 "$data"
echo "daybook: daybookd keeps its data in $data" >&2
echo "daybook: starting daybookd; try: curl http://127.0.0.1:8470/healthz" >&2
exec "$build/server/daybookd" serve --listen 127.0.0.1:8470 --data-dir "$data" "$@"
