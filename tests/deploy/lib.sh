# shellcheck shell=bash disable=SC2034
# Shared by the tests/deploy scripts (bash). Everything runs on 127.0.0.1, in a
# temporary directory removed at exit, with every wait bounded.

T=$(mktemp -d "${TMPDIR:-/tmp}/daybook-deploy.XXXXXX")
PIDS=()

cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait_exit "$p" 50 >/dev/null 2>&1 || kill -KILL "$p" 2>/dev/null || true
    done
    if [ -n "${KEEP_TMP:-}" ]; then
        echo "kept $T" >&2
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    for f in "$T"/*.log; do
        [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
    done
    exit 1
}
skip() {
    echo "SKIP: $*"
    exit 77
}
ok() { echo "ok - $*"; }

# wait_for_file FILE TENTHS: a non-empty FILE within TENTHS tenths of a second.
wait_for_file() {
    local i
    for ((i = 0; i < $2; i++)); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# wait_exit PID TENTHS: waits for our child PID to end; its status in $EXIT.
wait_exit() {
    local i
    for ((i = 0; i < $2; i++)); do
        if ! kill -0 "$1" 2>/dev/null; then
            wait "$1" 2>/dev/null
            EXIT=$?
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# forget PID: stop tracking a process that has been stopped and reaped.
forget() {
    local keep=() p
    for p in "${PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
    local p i
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# start_daybookd NAME ARGS...: runs "$DAYBOOKD" serve with a port file, sets PORT.
start_daybookd() {
    local name=$1
    shift
    rm -f "$T/$name.port"
    "$DAYBOOKD" serve --listen 127.0.0.1:0 --port-file "$T/$name.port" "$@" \
        >"$T/$name.log" 2>&1 &
    DAYBOOKD_PID=$!
    PIDS+=("$DAYBOOKD_PID")
    wait_for_file "$T/$name.port" 100 || fail "daybookd ($name) did not start"
    PORT=$(cat "$T/$name.port")
}

# stop_pid PID: SIGTERM, a bounded wait, and the exit status in $EXIT.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    wait_exit "$1" 100 || { kill -KILL "$1"; fail "process $1 did not stop on SIGTERM"; }
    forget "$1"
}

# json_field JSON NAME: the value of a top-level string or number field.
json_field() {
    printf '%s' "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"
}
