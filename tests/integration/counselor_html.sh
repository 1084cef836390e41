#!/usr/bin/env bash
# Opens the review HTML that integration.counselor wrote in headless Chromium
# (Debian's chromium): it renders, the craving chart has one point per day with
# cravings, the calendar one cell per day, no script runs (journal markup stays
# text), and a screenshot is kept as a test artifact: $DAYBOOK_ARTIFACTS/review.png.
# Exit 77 (skipped) when Chromium is missing and cannot be installed.
set -euo pipefail
art=${DAYBOOK_ARTIFACTS:?}
html=$art/review.html
[ -s "$html" ] && [ -s "$art/expected.txt" ] || { echo "no $html: run integration.counselor" >&2; exit 1; }

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null 2>&1 ||
            { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium >/dev/null 2>&1; } || true
        browser=$(command -v chromium || true)
    fi
    [ -n "$browser" ] || { echo "chromium is not installed (apt-get install chromium); skipped" >&2; exit 77; }
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
       --disable-component-update --disable-sync --no-first-run --user-data-dir="$tmp/profile")
timeout 60 "$browser" "${flags[@]}" --dump-dom "file://$html" > "$tmp/dom.html" 2>"$tmp/err1"
rm -f "$art/review.png"
timeout 60 "$browser" "${flags[@]}" --screenshot="$art/review.png" --window-size=1200,2000 \
    "file://$html" > /dev/null 2>"$tmp/err2"

expect() { sed -n "s/^$1=//p" "$art/expected.txt"; }
count() { grep -o "$1" "$tmp/dom.html" | wc -l; }
fail=0
check() { # name got want
    if [ "$2" != "$3" ]; then echo "FAIL $1: got $2, want $3" >&2; fail=1; else echo "ok   $1: $2"; fi
}
# The craving chart: its <svg> up to its </svg>.
chart=$(sed -n 's/.*\(<svg id="cravings-chart".*\)/\1/p' "$tmp/dom.html" | sed 's#</svg>.*##')
check "chart points" "$(grep -o '<circle class="peak"' <<<"$chart" | wc -l)" "$(expect circles)"
cal=$(sed -n 's/.*\(<svg id="calendar".*\)/\1/p' "$tmp/dom.html" | sed 's#</svg>.*##')
check "calendar days" "$(grep -o '<rect class="day-' <<<"$cal" | wc -l)" "$(expect days)"
check "journal entries" "$(count '<article class="journal"')" "$(expect journal)"
check "notes" "$(count '<article class="note"')" "$(expect notes)"
check "lapse rows" "$(count '<tr class="lapse-row"')" "$(expect lapses)"
check "scripts" "$(count '<script')" 0
check "escaped markup" "$(count '&lt;script&gt;alert(1)&lt;/script&gt;')" 1
check "notice" "$(count '42 CFR part 2 prohibits unauthorized use or disclosure of these records.')" 2
check "external references" "$(grep -Eo '(src|href)="(https?:)?//' "$html" | wc -l)" 0
# A PNG of the rendered page.
check "screenshot" "$(head -c 8 "$art/review.png" | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a
size=$(stat -c %s "$art/review.png")
[ "$size" -gt 20000 ] || { echo "FAIL screenshot too small ($size bytes)" >&2; fail=1; }
echo "screenshot: $art/review.png ($size bytes)"
exit $fail
