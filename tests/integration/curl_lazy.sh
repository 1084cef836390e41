#!/usr/bin/env bash
# integration.curl_lazy: daybook loads libcurl only when a command needs the server
# (client/sync/net.c, dlopen), so the commands a client uses offline never map it and
# what it drags in (issue 20: 34 shared objects, 90% of starting any command). With
# the real CLI against a real daybookd:
#   - daybook does not link libcurl;
#   - version, craving, journal, checkin, check, today (listing a counselor's referral,
#     whose link names the server) and log load no libcurl (the dynamic
#     loader's own log, LD_DEBUG=files), and sync, as the control, does;
#   - with a libcurl older than 7.85 (CURL_OLD, tests/support/curl_old.c: it refuses
#     CURLOPT_PROTOCOLS_STR as they do), sync sends nothing and exits 1 naming the
#     libcurl needed, and the next sync sends what waited;
#   - where libcurl cannot be loaded (a mount namespace in which the library is an
#     empty file): sync and review exit 1 naming the package to install (review still
#     shows what this device holds, marked offline), offline commands work, and the
#     next sync with libcurl sends what was written meanwhile.
# Needs readelf (binutils); without it it skips (77). The last part needs unshare
# (util-linux) and user namespaces; without them it says so and is left out.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
. "$(dirname "$0")/../deploy/lib.sh" # $T, fail, skip, ok, start_daybookd

daybook=${DAYBOOK:?DAYBOOK: the daybook binary}
daybookd=${DAYBOOKD:?DAYBOOKD: the daybookd binary}
command -v readelf >/dev/null || skip "no readelf"
work=$T

readelf -d "$daybook" | grep -q 'NEEDED.*\[libcurl' && fail "daybook links libcurl"
ok "daybook does not link libcurl"

# A server, a counselor and a client, with the real CLIs.
printf 'a test passphrase, not a real one\n' >"$work/passphrase"
export DAYBOOK_PASSPHRASE_FILE=$work/passphrase DAYBOOK_UNLOCK_SECONDS=0
"$daybookd" init --data-dir "$work/server" >/dev/null
start_daybookd server --data-dir "$work/server"
url=http://127.0.0.1:$PORT
setup=$("$daybookd" counselor add "Dana Reyes" --url "$url" --data-dir "$work/server" |
    sed -n 's/^setup URI: //p')
cli() { # HOME_NAME ARGS...: daybook in that profile, output in $work/out.log
    local home=$1
    shift
    DAYBOOK_HOME=$work/$home "$daybook" "$@" >"$work/out.log" 2>&1
}
cli dana init || fail "counselor init"
cli dana enroll "$setup" || fail "counselor enroll"
cli dana --json invite --name "Sam K." || fail "invite"
invite=$(sed -n 's/.*"uri":"\([^"]*\)".*/\1/p' "$work/out.log")
cli sam init || fail "client init"
cli sam enroll "$invite" --yes || fail "client enroll"
# A second counselor's team link, and Dana's referral of Sam to it: 'today' lists it
# from the record, offline.
setup=$("$daybookd" counselor add "Lee Park" --url "$url" --data-dir "$work/server" |
    sed -n 's/^setup URI: //p')
cli lee init || fail "second counselor init"
cli lee enroll "$setup" || fail "second counselor enroll"
cli lee --json team-link --role prescriber || fail "team-link"
team=$(sed -n 's/.*"uri":"\([^"]*\)".*/\1/p' "$work/out.log")
cli dana sync || fail "counselor sync"
cli dana --json clients || fail "clients"
client=$(sed -n 's/.*"account":"\([^"]*\)".*/\1/p' "$work/out.log" | head -1)
cli dana transfer "$team" "$client" || fail "transfer: $(cat "$work/out.log")"
cli dana sync || fail "counselor sync after transfer"
cli sam sync || fail "client sync"
ok "two counselors and a client enrolled; a referral synced to the client"

# What the loader loads, command by command (its log goes to a file of its own, so
# the command's output and a sanitizer's are not mixed in).
loads_curl() { # HOME_NAME ARGS...: 0 when the command loaded libcurl; it must exit 0
    rm -f "$work"/ld.*
    LD_DEBUG=files LD_DEBUG_OUTPUT=$work/ld cli "$@" || fail "daybook ${*:2}: $(cat "$work/out.log")"
    ls "$work"/ld.* >/dev/null 2>&1 || fail "LD_DEBUG wrote no log for daybook ${*:2}"
    grep -q 'file=libsodium' "$work"/ld.* || fail "the loader's log names no library"
    grep -q 'file=libcurl' "$work"/ld.*
}
for args in "version" \
    "craving --intensity 6 --outcome resisted --coping urge_surfing" \
    "journal -m Called-my-sponsor" \
    "checkin --mood 5 --craving 6 --no-use --sleep 7" \
    "check called_support" "today" "log"; do
    # shellcheck disable=SC2086 # the words of args are the command's arguments
    loads_curl sam $args && fail "daybook $args loaded libcurl"
    [ "$args" = today ] && { grep -q "daybook share 'daybook://team" "$work/out.log" ||
        fail "today does not list the referral: $(cat "$work/out.log")"; }
done
ok "version, craving, journal, checkin, check, today (with a referral) and log load no libcurl"
loads_curl sam sync || fail "daybook sync did not load libcurl"
grep -q " 0 waiting" "$work/out.log" || fail "sync: $(cat "$work/out.log")"
ok "sync loads it and sends everything: $(cat "$work/out.log")"

# A libcurl older than 7.85 (CURL_OLD: one that refuses CURLOPT_PROTOCOLS_STR as they
# do, the rest done by the real library): requests could go out by any protocol it
# has, so nothing is sent; sync exits 1 naming the libcurl needed, and the entry
# waits for a sync with a libcurl that keeps to http and https.
lib=$(ldconfig -p | sed -n 's/.*libcurl\.so\.4 .*=> //p' | head -1)
if [ -n "${CURL_OLD:-}" ] && [ -n "$lib" ]; then
    [ -f "$CURL_OLD" ] || fail "CURL_OLD ($CURL_OLD) was not built"
    cli sam journal -m "Written before a sync with an old libcurl." || fail "journal"
    rc=0
    LD_LIBRARY_PATH=$(dirname "$CURL_OLD") DAYBOOK_TEST_REAL_CURL=$(readlink -f "$lib") \
        cli sam sync || rc=$?
    [ "$rc" = 1 ] || fail "sync with a libcurl before 7.85: exit $rc, want 1: $(cat "$work/out.log")"
    grep -q "libcurl 7.85 or later" "$work/out.log" ||
        fail "sync with an old libcurl does not name 7.85: $(cat "$work/out.log")"
    grep -q "CURLOPT_PROTOCOLS_STR" "$work/out.log" ||
        fail "sync with an old libcurl does not say what it refused: $(cat "$work/out.log")"
    ok "a libcurl that ignores CURLOPT_PROTOCOLS_STR: sync exits 1: '$(grep 7.85 "$work/out.log" | head -c 160)...'"
    cli sam sync || fail "sync with the real libcurl: $(cat "$work/out.log")"
    grep -q "1 sent" "$work/out.log" || fail "the entry was sent by the old libcurl, or lost: $(cat "$work/out.log")"
    ok "nothing went out through it: the next sync sends the entry"
fi

# Where libcurl cannot be loaded: the library bind-mounted over by an empty file.
if [ -z "$lib" ] || ! unshare -rm true 2>/dev/null; then
    echo "curl_lazy: no user namespaces (or no libcurl.so.4 in ldconfig): the run without libcurl is left out"
    echo "curl_lazy: all other checks passed"
    exit 0
fi
lib=$(readlink -f "$lib")
nocurl() { # HOME_NAME ARGS...: cli where libcurl.so.4 cannot be loaded; its exit code
    local home=$1 rc=0
    shift
    # shellcheck disable=SC2016 # "$0" and "$@" are the inner shell's
    DAYBOOK_HOME=$work/$home unshare -rm sh -c 'mount --bind /dev/null "$0" && exec "$@"' \
        "$lib" "$daybook" "$@" >"$work/out.log" 2>&1 || rc=$?
    return "$rc"
}
nocurl sam journal -m "Written where libcurl is missing." || fail "journal without libcurl"
nocurl sam log || fail "log without libcurl"
grep -q "journal" "$work/out.log" || fail "log without libcurl: $(cat "$work/out.log")"
rc=0
nocurl sam sync || rc=$?
[ "$rc" = 1 ] || fail "sync without libcurl: exit $rc, want 1"
grep -q "apt install libcurl4" "$work/out.log" || fail "sync does not name libcurl4: $(cat "$work/out.log")"
ok "without libcurl: journal and log work; sync exits 1: '$(tail -n 1 "$work/out.log" | head -c 140)...'"
cli dana sync || fail "counselor sync"
rc=0
nocurl dana review "$client" || rc=$?
[ "$rc" = 1 ] || fail "review without libcurl: exit $rc, want 1"
grep -q "apt install libcurl4" "$work/out.log" || fail "review does not name libcurl4"
grep -q '^!!' "$work/out.log" || fail "review without libcurl is not marked offline: $(cat "$work/out.log")"
ok "review without libcurl exits 1, shows the review marked offline and names libcurl4"
rc=0
nocurl dana transfer "$team" "$client" || rc=$?
[ "$rc" = 1 ] || fail "transfer without libcurl: exit $rc, want 1"
grep -q "apt install libcurl4" "$work/out.log" || fail "transfer does not name libcurl4"
! grep -q "not a team link" "$work/out.log" || fail "transfer without libcurl blames the link"
ok "a team link read without libcurl: the library is named, the link is not blamed"
cli sam sync || fail "sync with libcurl again: $(cat "$work/out.log")"
grep -q "1 sent" "$work/out.log" || fail "the entry written without libcurl was not sent: $(cat "$work/out.log")"
ok "with libcurl back, sync sends the entry written meanwhile"
echo "curl_lazy: all checks passed"
