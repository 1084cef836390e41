#!/usr/bin/env bash
# The client's rooms and which way their arrows run (README "Source layout").
# Fails when a file of client/ includes a header of a room above its own, when a
# header is claimed by two rooms, when a room prints to the terminal that should
# not, when a file outside sync/ talks to the server through libcurl or sync/'s
# transport (transport.h) instead of sync/'s functions, or when a function runs over
# 80 lines without a reason written above it.
# Usage: tests/layering/check.sh [SOURCE_DIR]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root/client"

# Rank of each room: a file may include headers of its own room or of lower ranks.
declare -A rank=([main]=8 [commands]=7 [cli]=6 [report]=6 [book]=5 [sync]=4 [trust]=3 [store]=2)

declare -A home=() # header name -> room
for room in "${!rank[@]}"; do
    [ -d "$room" ] || continue
    for h in "$room"/*.h; do
        [ -e "$h" ] || continue
        name=${h##*/}
        if [ -n "${home[$name]:-}" ]; then
            echo "layering: $name is in both $room/ and ${home[$name]}/: give one a new name" >&2
            exit 1
        fi
        home[$name]=$room
    done
done

bad=0
checked=0
while IFS= read -r file; do
    room=${file%%/*}
    [ "$room" = "$file" ] && room=main
    r=${rank[$room]:-}
    if [ -z "$r" ]; then
        echo "layering: $file is in no known room (add its folder to tests/layering/check.sh)" >&2
        bad=$((bad + 1))
        continue
    fi
    while IFS= read -r inc; do
        checked=$((checked + 1))
        to=${home[$inc]:-}
        [ -z "$to" ] && continue # a system or common/ header
        if [ "${rank[$to]}" -gt "$r" ] || { [ "${rank[$to]}" -eq "$r" ] && [ "$to" != "$room" ]; }; then
            echo "layering: $file ($room/) includes $inc from $to/, a room above or beside it" >&2
            bad=$((bad + 1))
        fi
    done < <(sed -n 's/^#include "\([^"/]*\)".*/\1/p' "$file")
done < <(find . -name '*.[ch]' | sed 's|^\./||' | sort)

# Below commands/ and cli/, nothing writes to the terminal: report/ renderers write
# to the FILE * their caller passes, the rest returns values and error codes. The
# passphrase prompt (trust/unlock.c) reads /dev/tty and is the one exception.
while IFS= read -r hit; do
    echo "layering: prints to the terminal below commands/: $hit" >&2
    bad=$((bad + 1))
done < <(grep -nE '\b(printf|puts|putchar)\(|\b(fprintf|fputs|fputc|fwrite)\((stdout|stderr)' \
             book/*.c sync/*.c store/*.c report/*.c 2>/dev/null || true)

# The transport is sync/'s own: every other room reaches the server through sync/'s
# functions named for what they fetch or send (sync.h, account.h, access_log.h,
# enroll.h, sharing.h; net.h for the server's address, token and CA), never through
# libcurl or transport.h (dbk_net_call) directly. There is no exception.
while IFS= read -r file; do
    while IFS= read -r hit; do
        echo "layering: $file talks to the server below sync/'s functions: $hit" >&2
        bad=$((bad + 1))
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](curl/[^">]*|transport\.h)[">]|\b(curl_[a-z_]+|dbk_net_call)[[:space:]]*\(' \
                 "$file" || true)
done < <(find . -name '*.[ch]' ! -path './sync/*' | sed 's|^\./||' | sort)

# No function runs over 80 lines (its name's line to its closing brace) without a
# reason written above it: a comment ending on the line above its return type that
# says why it is long (the word "long" in it). A top-level definition has its return
# type on its own line, its name at column 0 and its braces at column 0 (STYLE.md),
# which is what this reads.
while IFS= read -r hit; do
    echo "layering: a function over 80 lines with no reason above it (split it into steps named for what they compute, or say why it is long): $hit" >&2
    bad=$((bad + 1))
done < <(find . -name '*.c' | sed 's|^\./||' | sort | xargs awk '
    FNR == 1 { name = ""; inbody = 0; comment = ""; incomment = 0; cend = -1 }
    !inbody && /^[ \t]*\/\*/ { incomment = 1; comment = "" }
    incomment { comment = comment " " $0 }
    incomment && /\*\// { incomment = 0; cend = FNR }
    !inbody && /^[A-Za-z_][A-Za-z0-9_]*\(/ {
        name = $0; sub(/\(.*/, "", name); start = FNR
        why = (cend == FNR - 2) ? comment : ""
    }
    !inbody && name != "" && /^\{/ { inbody = 1 }
    inbody && /^\}/ {
        if (FNR - start + 1 > 80 && tolower(why) !~ /long/)
            printf "%s:%d %s (%d lines)\n", FILENAME, start, name, FNR - start + 1
        inbody = 0; name = ""
    }')

if [ "$bad" -gt 0 ]; then
    echo "layering: $bad problem(s); arrows run main > commands > cli, report > book > sync > trust > store" >&2
    exit 1
fi
echo "layering: $checked includes checked, all run downward"
