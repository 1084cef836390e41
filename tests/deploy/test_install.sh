#!/usr/bin/env bash
# deploy.install: `cmake --install` into a temporary root puts every file where the
# docs say, with the right modes; the installed daybookd, started with the unit's
# own command line (a test config in place of /etc/daybook/daybookd.conf), serves
# /healthz and drains on SIGTERM with exit 0, as the unit expects.
# Usage: test_install.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: test_install.sh BUILD_DIR}
ROOT=$T/root

cmake --install "$BUILD" --prefix "$ROOT" >"$T/install.log" 2>&1 || fail "cmake --install"
ok "cmake --install --prefix $ROOT"

check_mode() { # MODE PATH
    [ -f "$ROOT/$2" ] || fail "$2 is not installed"
    local m
    m=$(stat -c %a "$ROOT/$2")
    [ "$m" = "$1" ] || fail "$2 has mode $m, want $1"
}
check_mode 755 sbin/daybookd
check_mode 755 bin/daybook
check_mode 644 lib/systemd/system/daybookd.service
check_mode 644 lib/systemd/system/daybookd-backup.service
check_mode 644 lib/systemd/system/daybookd-backup.timer
check_mode 755 libexec/daybook/daybook-backup.sh
# The PostgreSQL module, in the build's libdir ("lib" or "lib/<multiarch>").
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$BUILD/CMakeCache.txt")
check_mode 644 "${libdir:-lib}/daybook/daybookd-postgresql.so"
check_mode 644 share/doc/daybook/daybookd.conf.example
check_mode 644 share/doc/daybook/README.md
check_mode 644 share/doc/daybook/Caddyfile.example
check_mode 644 share/doc/daybook/nginx.conf.example
check_mode 644 share/doc/daybook/prometheus-rules.yml
check_mode 644 share/bash-completion/completions/daybookd
check_mode 644 share/bash-completion/completions/daybook
if [ -f "$BUILD/man/daybookd.8" ]; then
    check_mode 644 share/man/man8/daybookd.8
    check_mode 644 share/man/man1/daybook.1
    ok "man pages installed"
else
    echo "note: scdoc was not found at configure time; man pages not built"
fi
ok "files and modes"

unit=$ROOT/lib/systemd/system/daybookd.service
grep -qx 'User=daybook' "$unit" || fail "unit runs as another user"
grep -qx 'StateDirectoryMode=0700' "$unit" || fail "unit's state directory is not 0700"
grep -qx 'UMask=0077' "$unit" || fail "unit has no UMask=0077"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
want="$ROOT/sbin/daybookd serve --config /etc/daybook/daybookd.conf"
[ "$exec_start" = "$want" ] || fail "ExecStart is '$exec_start', want '$want'"
grep -qx "ExecStart=$ROOT/libexec/daybook/daybook-backup.sh" \
    "$ROOT/lib/systemd/system/daybookd-backup.service" || fail "backup unit's ExecStart"
ok "units name the installed binaries"

# Exposure score of the installed unit, where this systemd can rate a unit file.
if command -v systemd-analyze >/dev/null &&
    systemd-analyze security --offline=yes "$unit" >"$T/analyze.log" 2>&1; then
    score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$T/analyze.log")
    awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }' ||
        fail "systemd-analyze security exposure $score > 2.0"
    ok "systemd-analyze security exposure $score"
else
    echo "note: systemd-analyze security --offline not available; exposure not rated"
fi

# The unit's command line, with a test config made from the installed example.
conf=$T/daybookd.conf
sed -e "s|^listen = .*|listen = 127.0.0.1:0|" -e "s|^data-dir = .*|data-dir = $T/data|" \
    "$ROOT/share/doc/daybook/daybookd.conf.example" >"$conf"
echo "port-file = $T/serve.port" >>"$conf"
read -r -a argv <<<"${exec_start/\/etc\/daybook\/daybookd.conf/$conf}"
(umask 0077 && exec "${argv[@]}") >"$T/serve.log" 2>&1 &
pid=$!
PIDS+=("$pid")
wait_for_file "$T/serve.port" 100 || fail "installed daybookd did not start"
port=$(cat "$T/serve.port")
body=$(curl -sS --max-time 10 -w '\n%{http_code}' "http://127.0.0.1:$port/healthz") ||
    fail "curl /healthz"
code=${body##*$'\n'}
body=${body%$'\n'*}
[ "$code" = 200 ] || fail "/healthz answered $code"
[ "$(json_field "$body" protocol)" = 1 ] || fail "/healthz: $body"
ok "installed daybookd serves /healthz: $body"

[ "$(stat -c %a "$T/data")" = 700 ] || fail "data dir is not 0700"
[ "$(stat -c %a "$T/data/daybook.db")" = 600 ] || fail "daybook.db is not 0600"
ok "data directory 0700, daybook.db 0600"

stop_pid "$pid"
[ "$EXIT" = 0 ] || fail "daybookd exited $EXIT on SIGTERM, want 0"
grep -q 'event=draining' "$T/serve.log" || fail "no drain logged"
ok "SIGTERM drains and exits 0"

# The installed daybookd finds its PostgreSQL module under this prefix (libdir/daybook
# relative to sbin), loads it, and only then meets the absent database: exit 1.
rc=0
"$ROOT/sbin/daybookd" check --store 'postgresql://daybook@127.0.0.1:1/none?connect_timeout=5' \
    >"$T/module.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "cannot be reached" "$T/module.log" ||
    fail "installed daybookd with a postgresql:// store: exit $rc, $(cat "$T/module.log")"
ok "installed daybookd loads its PostgreSQL module from the prefix"

echo "deploy.install: all checks passed"
