#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (integration.pg.*, integration.pg_nodes).
#
#   pg_cluster.sh start STATE   initdb and pg_ctl start in a new temp dir; STATE gets
#                               the directory (its Unix socket is DIR/sock)
#   pg_cluster.sh restart STATE pg_ctl restart -m fast (the database away, then back)
#   pg_cluster.sh pause STATE   pg_ctl stop -m fast, keeping the directory (away)
#   pg_cluster.sh resume STATE  pg_ctl start again on it (back)
#   pg_cluster.sh stop STATE    pg_ctl stop and remove the directory
#
# The server runs as an unprivileged user: as root (CI) that is `nobody`, through
# runuser; otherwise the caller. It listens on a Unix socket only, trusts local
# connections (user daybook), and skips fsync (a test cluster; commits are still
# synchronous, so a restart loses nothing acknowledged).
set -euo pipefail

cmd=${1:-}
state=${2:-}
if [ -z "$cmd" ] || [ -z "$state" ]; then
    echo "usage: $0 start|restart|pause|resume|stop STATE_FILE" >&2
    exit 2
fi

bindir=$(pg_config --bindir 2>/dev/null || true)
if [ ! -x "$bindir/pg_ctl" ]; then
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
if [ ! -x "$bindir/initdb" ]; then
    echo "pg_cluster: initdb not found (install postgresql: scripts/deps.sh --test)" >&2
    exit 1
fi

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u nobody -- "$@"
    else
        "$@"
    fi
}

case $cmd in
start)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/daybook-pg.XXXXXX")
    mkdir "$dir/data" "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R nobody:nogroup "$dir"
        chmod 0711 "$dir" # the tests (root) reach the socket; the files stay nobody's
    fi
    as_owner "$bindir/initdb" -D "$dir/data" -U daybook -A trust -E UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    # In postgresql.conf, so every later start (restart, resume) has them too.
    printf '%s\n' "listen_addresses = ''" "unix_socket_directories = '$dir/sock'" \
        "fsync = off" "full_page_writes = off" "max_connections = 400" \
        "shared_buffers = 64MB" >>"$dir/data/postgresql.conf"
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
    mkdir -p "$(dirname "$state")"
    echo "$dir" >"$state"
    echo "pg_cluster: started in $dir"
    ;;
pause)
    dir=$(cat "$state")
    as_owner "$bindir/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null
    ;;
resume)
    dir=$(cat "$state")
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    ;;
restart)
    dir=$(cat "$state")
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -m fast \
        restart >/dev/null
    ;;
stop)
    [ -f "$state" ] || exit 0
    dir=$(cat "$state")
    case $dir in */daybook-pg.*) ;; *) echo "pg_cluster: odd state $dir" >&2; exit 1 ;; esac
    as_owner "$bindir/pg_ctl" -D "$dir/data" -w -t 60 -m fast stop >/dev/null || true
    rm -rf "$dir" "$state"
    ;;
*)
    echo "usage: $0 start|restart|pause|resume|stop STATE_FILE" >&2
    exit 2
    ;;
esac
