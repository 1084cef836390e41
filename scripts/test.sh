#!/usr/bin/env bash
# Installs what is missing, builds Daybook, and runs the whole test suite.
#
#   scripts/test.sh                 # build/ with the default flags
#   DAYBOOK_BUILD_DIR=build-asan DAYBOOK_CMAKE_ARGS=-DDAYBOOK_SANITIZE=ON scripts/test.sh
#
# Extra arguments go to ctest (e.g. -R unit. to run only the unit tests).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh --test

build=${DAYBOOK_BUILD_DIR:-build}
# shellcheck disable=SC2086 # DAYBOOK_CMAKE_ARGS is a list of words on purpose
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${DAYBOOK_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$(nproc)"

# Node.js packages for the spec checks, pinned by tests/js/package-lock.json and
# installed into the build directory only when the lock file changed.
js="$build/js"
mkdir -p "$js"
if ! cmp -s tests/js/package-lock.json "$js/package-lock.json" || [ ! -d "$js/node_modules" ]; then
    cp tests/js/package.json tests/js/package-lock.json "$js/"
    (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
fi

cd "$build"
ctest --output-on-failure --timeout 300 -j 2 "$@"
