#!/usr/bin/env bash
# deploy.demo: scripts/demo.sh, the Quickstart in one go, runs to the end with this
# build's binaries; its output shows the review and the note reaching the client, the
# HTML report exists and carries the Part 2 notice, and the checkout is exactly as it
# was before (no profile, report or server data lands in the source tree).
# Usage: test_demo.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SRC=${1:?usage: test_demo.sh SOURCE_DIR BUILD_DIR}
BUILD=${2:?usage: test_demo.sh SOURCE_DIR BUILD_DIR}
command -v git >/dev/null || { echo "git is missing: skipped"; exit 77; }

status() { git -C "$SRC" status --porcelain --untracked-files=all --ignored=no; }
before=$(status)
TMPDIR=$T DAYBOOK_BUILD_DIR=$BUILD NO_COLOR=1 bash "$SRC/scripts/demo.sh" >"$T/demo.log" 2>&1 ||
    fail "scripts/demo.sh exited non-zero"
ok "scripts/demo.sh ran to the end"

grep -q '^\$ daybook review ' "$T/demo.log" || fail "the demo does not show the review command"
grep -q '^Review of ' "$T/demo.log" || fail "no review printed"
grep -q '^REPORTED USE' "$T/demo.log" || fail "the review has no reported-use section"
grep -q 'Hard evening, called my sponsor.' "$T/demo.log" || fail "the journal entry is not in the review"
report=$(sed -n 's/^demo: the HTML report is \(.*\) (open it in a browser)$/\1/p' "$T/demo.log")
[ -n "$report" ] && [ -f "$report" ] || fail "the demo names no HTML report that exists"
grep -q '42 CFR part 2 prohibits unauthorized use or disclosure' "$report" ||
    fail "the HTML report lacks the redisclosure notice"
case $report in "$SRC"/*) fail "the report was written inside the checkout" ;; esac
ok "the review and the HTML report ($report)"

after=$(status)
[ "$before" = "$after" ] || fail "the checkout changed: $(diff <(echo "$before") <(echo "$after") | head -5)"
ok "git status of the checkout is unchanged"
