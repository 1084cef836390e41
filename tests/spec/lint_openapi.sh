#!/usr/bin/env bash
# Lints proto/openapi.yaml with the real OpenAPI linter, @redocly/cli, using the
# rules in proto/redocly.yaml (the built-in "recommended-strict" set, so a warning
# is an error). Nothing is fetched from the network.
#
#   DAYBOOK_NODE_MODULES=build/js/node_modules bash tests/spec/lint_openapi.sh .
#
# DAYBOOK_NODE_MODULES is a node_modules directory holding @redocly/cli (installed
# from tests/js/package.json by scripts/test.sh). Ends with "N passed, M failed";
# the exit status is non-zero when the lint failed.
set -u

root=${1:-}
if [ -z "$root" ] || [ ! -f "$root/proto/openapi.yaml" ]; then
    echo "usage: lint_openapi.sh REPO_ROOT (the folder that holds proto/openapi.yaml)" >&2
    exit 2
fi
if [ -z "${DAYBOOK_NODE_MODULES:-}" ]; then
    echo "FAIL: DAYBOOK_NODE_MODULES is not set (a node_modules folder with @redocly/cli)"
    echo "0 passed, 1 failed"
    exit 1
fi
redocly="$DAYBOOK_NODE_MODULES/.bin/redocly"
if [ ! -x "$redocly" ]; then
    echo "FAIL: $redocly not found; install @redocly/cli (tests/js/package.json) into $DAYBOOK_NODE_MODULES"
    echo "0 passed, 1 failed"
    exit 1
fi

# No telemetry, no update check: the test runs offline.
export REDOCLY_TELEMETRY=off
export REDOCLY_SUPPRESS_UPDATE_NOTICE=true
export NO_COLOR=1

cd "$root" || exit 2
echo "redocly $("$redocly" --version 2>/dev/null | head -n 1)"
if "$redocly" lint --config proto/redocly.yaml --format stylish proto/openapi.yaml; then
    echo "ok: proto/openapi.yaml passes redocly lint with no errors or warnings"
    echo "1 passed, 0 failed"
    exit 0
fi
echo "FAIL: proto/openapi.yaml does not pass redocly lint (problems above)"
echo "0 passed, 1 failed"
exit 1
