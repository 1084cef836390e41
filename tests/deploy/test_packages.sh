#!/usr/bin/env bash
# deploy.packages: cpack builds three Debian packages: daybookd (the server, its units
# and examples, daybookd(8), the maintainer scripts), daybookd-postgresql (daybookd's
# PostgreSQL module, the only one that needs libpq) and daybook (the CLI alone, for
# clients and counselors). Each holds its own files and none of the other's; the
# client package, unpacked into a temporary root, runs `daybook --version`; daybookd
# unpacked alone says to install daybookd-postgresql for a postgresql:// store, and
# with it loads the module.
# (The package is unpacked with dpkg-deb, not installed with dpkg -i: the test does
# not change the machine it runs on.)
# Usage: test_packages.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BUILD=${1:?usage: test_packages.sh BUILD_DIR}
command -v cpack >/dev/null && command -v dpkg-deb >/dev/null ||
    { echo "cpack or dpkg-deb is missing: skipped"; exit 77; }

(cd "$BUILD" && cpack -G DEB -B "$T/pkg") >"$T/cpack.log" 2>&1 || fail "cpack -G DEB"
server=$(ls "$T"/pkg/daybookd_*.deb 2>/dev/null | head -1)
client=$(ls "$T"/pkg/daybook_*.deb 2>/dev/null | head -1)
pg=$(ls "$T"/pkg/daybookd-postgresql_*.deb 2>/dev/null | head -1)
[ -f "$server" ] || fail "no daybookd_*.deb"
[ -f "$client" ] || fail "no daybook_*.deb"
[ -f "$pg" ] || fail "no daybookd-postgresql_*.deb"
ok "three packages: ${server##*/} ${pg##*/} ${client##*/}"

[ "$(dpkg-deb -f "$server" Package)" = daybookd ] || fail "the server package is not named daybookd"
[ "$(dpkg-deb -f "$client" Package)" = daybook ] || fail "the client package is not named daybook"
dpkg-deb -f "$client" Depends | grep -q libqrencode4 || fail "the client does not depend on libqrencode4"
dpkg-deb -f "$client" Depends | grep -q libcurl4 ||
    fail "the client does not depend on libcurl4 (daybook loads it with dlopen to sync)"
dpkg-deb -f "$client" Depends | grep -q libuv1 && fail "the client depends on libuv1 (a server library)"
dpkg-deb -c "$server" >"$T/server.list"
dpkg-deb -c "$client" >"$T/client.list"
grep -q '\./usr/sbin/daybookd$' "$T/server.list" || fail "daybookd is not in the server package"
grep -q 'daybookd.service$' "$T/server.list" || fail "the unit is not in the server package"
grep -q '\./usr/bin/daybook$' "$T/client.list" || fail "daybook is not in the client package"
grep -q 'CLIENT-INSTALL.md$' "$T/client.list" || fail "the client guide is not in the client package"
grep -q 'daybookd' "$T/client.list" && fail "the client package holds server files"
grep -q '\./usr/bin/daybook$' "$T/server.list" && fail "the server package holds the CLI"
dpkg-deb -c "$pg" >"$T/pg.list"
grep -q '/daybook/daybookd-postgresql\.so$' "$T/pg.list" || fail "the module is not in daybookd-postgresql"
grep -q 'daybookd-postgresql\.so$' "$T/server.list" && fail "the server package holds the module"
dpkg-deb -f "$server" Depends | grep -q libpq && fail "the server depends on libpq (the module's)"
dpkg-deb -f "$server" Recommends | grep -q daybookd-postgresql || fail "the server does not recommend its module"
dpkg-deb -f "$pg" Depends | grep -q libpq5 || fail "the module does not depend on libpq5"
dpkg-deb -f "$pg" Depends | grep -q "daybookd (= $(dpkg-deb -f "$server" Version))" ||
    fail "the module does not depend on daybookd of its own version"
# The listing is read whole (grep -q would close the pipe early, and under pipefail
# tar's SIGPIPE would fail the check by chance).
dpkg-deb --ctrl-tarfile "$server" | tar -t | grep -c postinst >/dev/null || fail "the server package lost its postinst"
dpkg-deb --ctrl-tarfile "$client" | tar -t | grep -c postinst >/dev/null && fail "the client package has the server's postinst"
ok "each package holds its own files"

dpkg-deb -x "$client" "$T/unpacked"
# The entry whose last two parts are a bin folder and the daybook binary.
unpacked_bin="$T/unpacked/$(dpkg-deb -c "$client" |
    awk '{ n = split($NF, p, "/") } n > 1 && p[n] == "daybook" && p[n - 1] == "bin" {
        sub(/^\.\//, "", $NF); print $NF; exit }')"
[ -x "$unpacked_bin" ] || fail "the client package holds no daybook binary"
out=$("$unpacked_bin" --version) || fail "daybook --version from the client package"
case $out in *0.*) ;; *) fail "daybook --version printed '$out'" ;; esac
ok "daybook --version from the unpacked client package: $out"

# daybookd unpacked alone: a postgresql:// store names the package to install (exit 2);
# with daybookd-postgresql unpacked beside it, the module loads and the absent database
# is the error (exit 1).
nowhere='postgresql://daybook@127.0.0.1:1/none?connect_timeout=5'
dpkg-deb -x "$server" "$T/srv"
rc=0
"$T/srv/usr/sbin/daybookd" check --store "$nowhere" >"$T/alone.log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'install the daybookd-postgresql package' "$T/alone.log" ||
    fail "daybookd without its module: exit $rc, $(cat "$T/alone.log")"
dpkg-deb -x "$pg" "$T/srv"
rc=0
"$T/srv/usr/sbin/daybookd" check --store "$nowhere" >"$T/with.log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q 'cannot be reached' "$T/with.log" ||
    fail "daybookd with daybookd-postgresql: exit $rc, $(cat "$T/with.log")"
ok "unpacked daybookd: without daybookd-postgresql exit 2 naming it; with it the module loads"
