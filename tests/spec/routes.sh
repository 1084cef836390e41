#!/usr/bin/env bash
# Checks that proto/openapi.yaml and daybookd name the same routes.
#
#   DAYBOOKD=build/server/daybookd DAYBOOK_NODE_MODULES=build/js/node_modules \
#       bash tests/spec/routes.sh .
#
# Compares the "METHOD /path" lines `$DAYBOOKD routes` prints with the operations of
# proto/openapi.yaml and with tests/spec/routes-pending.txt, the operations that are
# specified but not served yet. It fails when
#   (a) daybookd serves a route that openapi.yaml does not specify,
#   (b) openapi.yaml specifies a route that is neither served nor pending,
#   (c) a pending route is served (delete it from routes-pending.txt), or
#   (d) routes-pending.txt lists a route openapi.yaml does not specify, or a
#       malformed or repeated line.
# openapi.yaml is read with a real YAML parser: @redocly/cli (from
# DAYBOOK_NODE_MODULES) converts it to JSON, which node reads. Ends with
# "N passed, M failed"; the exit status is non-zero when anything failed.
set -u

root=${1:-}
if [ -z "$root" ] || [ ! -f "$root/proto/openapi.yaml" ]; then
    echo "usage: routes.sh REPO_ROOT (the folder that holds proto/openapi.yaml)" >&2
    exit 2
fi
cd "$root" || exit 2
pending_file=tests/spec/routes-pending.txt

fatal() {
    echo "FAIL: $*"
    echo "0 passed, 1 failed"
    exit 1
}

[ -n "${DAYBOOKD:-}" ] || fatal "DAYBOOKD is not set (the daybookd binary)"
[ -x "$DAYBOOKD" ] || fatal "DAYBOOKD=$DAYBOOKD is not an executable file"
[ -n "${DAYBOOK_NODE_MODULES:-}" ] || fatal "DAYBOOK_NODE_MODULES is not set (a node_modules folder with @redocly/cli)"
redocly="$DAYBOOK_NODE_MODULES/.bin/redocly"
[ -x "$redocly" ] || fatal "$redocly not found; install @redocly/cli (tests/js/package.json)"
command -v node >/dev/null || fatal "node is not on PATH"
[ -f "$pending_file" ] || fatal "$pending_file is missing"

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_COLOR=1

tmp=$(mktemp -d) || fatal "mktemp failed"
trap 'rm -rf "$tmp"' EXIT

# --- what daybookd serves ---------------------------------------------------------
if ! "$DAYBOOKD" routes >"$tmp/served.raw" 2>"$tmp/served.err"; then
    cat "$tmp/served.err"
    fatal "'$DAYBOOKD routes' failed"
fi

# --- what openapi.yaml specifies --------------------------------------------------
if ! "$redocly" bundle proto/openapi.yaml --ext json -o "$tmp/openapi.json" >"$tmp/bundle.log" 2>&1; then
    cat "$tmp/bundle.log"
    fatal "redocly could not read proto/openapi.yaml"
fi
if ! node -e '
    const doc = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    for (const [path, item] of Object.entries(doc.paths || {}))
        for (const m of methods)
            if (item && Object.prototype.hasOwnProperty.call(item, m))
                console.log(m.toUpperCase() + " " + path);
' "$tmp/openapi.json" >"$tmp/spec.raw"; then
    fatal "could not list the operations of proto/openapi.yaml"
fi

# --- the pending list -------------------------------------------------------------
passed=0
failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }

declare -A served=() spec=() pending=()
line_re='^(GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS|TRACE) /[^[:space:]]*$'

while IFS= read -r l || [ -n "$l" ]; do
    [ -z "$l" ] && continue
    if [[ ! $l =~ $line_re ]]; then
        bad "daybookd routes printed a line that is not 'METHOD /path': '$l'"
        continue
    fi
    served[$l]=1
done <"$tmp/served.raw"

while IFS= read -r l || [ -n "$l" ]; do
    [ -n "$l" ] && spec[$l]=1
done <"$tmp/spec.raw"

n=0
while IFS= read -r l || [ -n "$l" ]; do
    n=$((n + 1))
    l=${l%$'\r'}
    [[ -z ${l//[[:space:]]/} || $l == \#* ]] && continue
    if [[ ! $l =~ $line_re ]]; then
        bad "$pending_file:$n: not 'METHOD /path': '$l'"
    elif [ -n "${pending[$l]:-}" ]; then
        bad "$pending_file:$n: '$l' is listed twice"
    else
        pending[$l]=1
    fi
done <"$pending_file"

echo "daybookd serves ${#served[@]} routes; proto/openapi.yaml specifies ${#spec[@]}; ${#pending[@]} are pending"

# --- compare ----------------------------------------------------------------------
sorted() { [ "$#" -gt 0 ] && printf '%s\n' "$@" | sort -k2,2 -k1,1; }

while IFS= read -r r; do
    [ -z "$r" ] && continue
    if [ -z "${spec[$r]:-}" ]; then
        bad "$r: served by daybookd but not specified in proto/openapi.yaml"
    elif [ -n "${pending[$r]:-}" ]; then
        bad "$r: served by daybookd but still listed in $pending_file; delete that line"
    else
        ok "$r: served and specified"
    fi
done < <(sorted "${!served[@]}")

while IFS= read -r r; do
    [ -z "$r" ] || [ -n "${served[$r]:-}" ] && continue
    if [ -n "${pending[$r]:-}" ]; then
        ok "$r: specified, pending (not served yet)"
    else
        bad "$r: specified in proto/openapi.yaml but neither served by daybookd nor listed in $pending_file"
    fi
done < <(sorted "${!spec[@]}")

while IFS= read -r r; do
    [ -z "$r" ] && continue
    [ -z "${spec[$r]:-}" ] && bad "$r: listed in $pending_file but not specified in proto/openapi.yaml"
done < <(sorted "${!pending[@]}")

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
