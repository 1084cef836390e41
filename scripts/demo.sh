#!/usr/bin/env bash
# The whole Quickstart in one go, in a temporary directory outside the checkout:
# a daybookd on a free loopback port, a counselor (Dana) and a client (Sam) with
# their own profiles, a craving, a journal entry and a daily check-in, sync, a note
# back to the client, then the counselor's review as text and as an HTML report.
# Prints the review and where everything is; the server is stopped at the end.
#
#   scripts/demo.sh            # builds first (no tests) if daybookd is not built
#   DAYBOOK_DEMO_CLEAN=1 scripts/demo.sh  # remove the temporary directory at the end
#
# The directory (made-up records, the two profiles, the server's data and the HTML
# report) is kept so the report can be opened; the server is always stopped.
#
# DAYBOOK_BUILD_DIR (default build-serve) is the build it uses.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DAYBOOK_BUILD_DIR:-$root/build-serve}
case $build in /*) ;; *) build=$root/$build ;; esac
if [ ! -x "$build/server/daybookd" ] || [ ! -x "$build/client/daybook" ]; then
    echo "demo: building daybookd and daybook into $build" >&2
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF >/dev/null
    cmake --build "$build" -j "$(nproc)" --target daybookd daybook >/dev/null
fi
daybookd=$build/server/daybookd
daybook=$build/client/daybook

demo=$(mktemp -d "${TMPDIR:-/tmp}/daybook-demo.XXXXXX")
server=
finish() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server"
        wait "$server" 2>/dev/null || true
    fi
    if [ "${DAYBOOK_DEMO_CLEAN:-}" = 1 ]; then
        rm -rf "$demo"
    fi
}
trap finish EXIT
# Each command is shown as a person would type it (bold on a terminal, unless NO_COLOR).
bold= plain=
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
say() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain" | sed "s|$build/client/||g; s|$build/server/||g"; }
run() { say "$*"; "$@"; }

# The demo's passphrases come from a file; a person types theirs on the terminal.
printf 'a demo passphrase, not a real one\n' >"$demo/passphrase"
export DAYBOOK_PASSPHRASE_FILE=$demo/passphrase DAYBOOK_UNLOCK_SECONDS=300

"$daybookd" init --data-dir "$demo/server" >/dev/null
"$daybookd" serve --listen 127.0.0.1:0 --port-file "$demo/port" --data-dir "$demo/server" \
    2>"$demo/server.log" &
server=$!
for _ in $(seq 1 100); do [ -s "$demo/port" ] && break; sleep 0.1; done
[ -s "$demo/port" ] || { cat "$demo/server.log" >&2; echo "demo: daybookd did not start" >&2; exit 1; }
url=http://127.0.0.1:$(cat "$demo/port")
echo "demo: daybookd is listening on $url; everything lives in $demo"

# The clinic's admin adds a counselor; Dana's device joins with the setup URI.
setup=$("$daybookd" counselor add "Dana Reyes" --url "$url" --data-dir "$demo/server" |
    sed -n 's/^setup URI: //p')
export DAYBOOK_HOME=$demo/dana
run "$daybook" init >/dev/null
run "$daybook" enroll "$setup"
invite=$("$daybook" --json invite --name "Sam K." | sed -n 's/.*"uri":"\([^"]*\)".*/\1/p')
say "$daybook invite --name \"Sam K.\"    # Dana gives Sam this code in person (also as a QR code)"
echo "$invite"

# Sam joins (the counselor's key is checked against the code), logs, syncs.
export DAYBOOK_HOME=$demo/sam
run "$daybook" init >/dev/null
# --yes: the demo agrees to the consent for Sam; a person reads it and types yes.
run "$daybook" enroll "$invite" --yes
run "$daybook" craving --intensity 6 --outcome resisted --coping urge_surfing \
    --trigger places:"the bar on 5th" --situation "walked past after work"
run "$daybook" journal -m "Hard evening, called my sponsor."
run "$daybook" checkin --mood 5 --craving 6 --no-use --sleep 7
run "$daybook" sync

# Before the session, Dana syncs and reviews.
export DAYBOOK_HOME=$demo/dana
run "$daybook" sync
run "$daybook" clients
client=$("$daybook" --json clients | sed -n 's/.*"account":"\([^"]*\)".*/\1/p' | head -1)
run "$daybook" review "$client"
run "$daybook" review "$client" --format html --out "$demo/review.html"
run "$daybook" note "$client" --share -m "Good work riding out that urge. See you Thursday."
run "$daybook" sync

export DAYBOOK_HOME=$demo/sam
run "$daybook" sync
run "$daybook" log
run "$daybook" consent

echo
if [ "${DAYBOOK_DEMO_CLEAN:-}" = 1 ]; then
    echo "demo: done; $demo is removed (DAYBOOK_DEMO_CLEAN=1)"
else
    echo "demo: the HTML report is $demo/review.html (open it in a browser)"
    echo "demo: the server is stopped; remove the demo with: rm -rf $demo"
fi
