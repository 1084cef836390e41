#!/usr/bin/env bash
# deploy.packages: cpack builds two Debian packages: daybookd (the server, its units
# and examples, daybookd(8), the maintainer scripts) and daybook (the CLI alone, for
# clients and counselors). Each holds its own files and none of the other's; the
# client package, unpacked into a temporary root, runs `daybook --version`.
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
[ -f "$server" ] || fail "no daybookd_*.deb"
[ -f "$client" ] || fail "no daybook_*.deb"
ok "two packages: ${server##*/} ${client##*/}"

[ "$(dpkg-deb -f "$server" Package)" = daybookd ] || fail "the server package is not named daybookd"
[ "$(dpkg-deb -f "$client" Package)" = daybook ] || fail "the client package is not named daybook"
dpkg-deb -f "$client" Depends | grep -q libqrencode4 || fail "the client does not depend on libqrencode4"
dpkg-deb -f "$client" Depends | grep -q libuv1 && fail "the client depends on libuv1 (a server library)"
dpkg-deb -c "$server" >"$T/server.list"
dpkg-deb -c "$client" >"$T/client.list"
grep -q '\./usr/sbin/daybookd$' "$T/server.list" || fail "daybookd is not in the server package"
grep -q 'daybookd.service$' "$T/server.list" || fail "the unit is not in the server package"
grep -q '\./usr/bin/daybook$' "$T/client.list" || fail "daybook is not in the client package"
grep -q 'CLIENT-INSTALL.md$' "$T/client.list" || fail "the client guide is not in the client package"
grep -q 'daybookd' "$T/client.list" && fail "the client package holds server files"
grep -q '\./usr/bin/daybook$' "$T/server.list" && fail "the server package holds the CLI"
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
