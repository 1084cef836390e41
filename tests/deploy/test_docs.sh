#!/usr/bin/env bash
# deploy.docs: the man page daybookd(8) and the bash completion name every command
# of `daybookd --help` and every flag of `daybookd serve --help`, and nothing that
# is gone; the completion answers daybook's commands from `daybook --help`; the
# shell scripts pass `sh -n`/`bash -n`; the systemd units have the settings the
# docs promise.
# Usage: test_docs.sh SOURCE_DIR   (env DAYBOOKD, DAYBOOK: the binaries)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

: "${DAYBOOKD:?}" "${DAYBOOK:?}"
SRC=${1:?usage: test_docs.sh SOURCE_DIR}
MAN=$SRC/deploy/man/daybookd.8.scd
COMP=$SRC/deploy/daybook.bash-completion

commands=$("$DAYBOOKD" --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1; next } f { exit }')
[ -n "$commands" ] || fail "no commands in daybookd --help"
for c in $commands; do
    grep -q "^\*${c}[* ]" "$MAN" || fail "daybookd.8.scd does not describe '$c'"
    grep -q "local commands=\".*\b$c\b" "$COMP" || fail "completion lacks daybookd '$c'"
    "$DAYBOOKD" "$c" --help >"$T/help-$c.txt" 2>&1 || fail "daybookd $c --help fails"
    # Every flag of every command is described and completed.
    for f in $(grep -o -- '--[a-z][a-z-]*' "$T/help-$c.txt" | sort -u); do
        grep -q -- "\*$f\*" "$MAN" || fail "daybookd.8.scd does not describe $c $f"
        grep -q -- "$f\b" "$COMP" || fail "completion lacks $c $f"
    done
done
for c in $(sed -n 's/^\t*local commands="\([^"]*\)"/\1/p' "$COMP" | head -1); do
    case " $(echo $commands) " in *" $c "*) ;; *) fail "completion offers '$c', not a daybookd command" ;; esac
done
ok "daybookd commands: $(echo $commands)"

flags=$("$DAYBOOKD" serve --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
comp_serve=$(awk '/local serve_opts="/ { f = 1 } f { print } f && /"$/ && !/serve_opts="[^"]*$/ { exit }' "$COMP")
for f in $flags; do
    grep -q -- "\*$f\*" "$MAN" || fail "daybookd.8.scd does not describe serve $f"
    grep -q -- "$f\b" <<<"$comp_serve" || fail "completion lacks serve $f"
done
for f in $(grep -o -- '--[a-z][a-z-]*' <<<"$comp_serve" | sort -u); do
    [ "$f" = --help ] && continue
    grep -qx -- "$f" <<<"$flags" || fail "completion offers serve $f, which serve --help does not list"
done
ok "serve flags: $(echo $flags)"

# Completion, run as bash would.
complete_words() { # PROGRAM WORDS... -> completions of the last word
    local prog=$1
    shift
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
             case ${COMP_WORDS[0]} in *daybookd) _daybookd ;; *) _daybook ;; esac
             echo "${COMPREPLY[*]}"' _ "$COMP" "$prog" "$@"
}
[ "$(complete_words "$DAYBOOKD" serve --log-l)" = --log-level ] || fail "serve --log-l"
[ "$(complete_words "$DAYBOOKD" serve --log-level w)" = warn ] || fail "--log-level w"
[ "$(complete_words "$DAYBOOKD" counselor "")" = "add disable enable list" ] || fail "counselor <TAB>"
[ "$(complete_words "$DAYBOOKD" counselor d)" = disable ] || fail "counselor d<TAB>"
[ "$(complete_words "$DAYBOOKD" audit "")" = verify ] || fail "audit <TAB>"
got=$(complete_words "$DAYBOOK" "")
for c in $("$DAYBOOK" --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1; next } f { exit }'); do
    case " $got " in *" $c "*) ;; *) fail "daybook completion lacks '$c' (got: $got)" ;; esac
done
ok "bash completion for daybookd and daybook"

# daybook(1) as the build makes it (man/commands.cmake from `daybook --help`) names
# every command, the last included (a ';' in a summary once cut it short); and every
# command's help is the same text from 'CMD --help' and 'help CMD', on stdout, exit 0.
"${CMAKE:-cmake}" -DPROGRAM="$DAYBOOK" -DIN="$SRC/deploy/man/daybook.1.scd.in" \
    -DOUT="$T/daybook.1.scd" -P "$SRC/deploy/man/commands.cmake" >/dev/null ||
    fail "man/commands.cmake failed"
for c in $("$DAYBOOK" --help | awk '/^commands:/ { f = 1; next } f && /^  [a-z]/ { print $1; next } f { exit }'); do
    grep -q "^\*$c\*\$" "$T/daybook.1.scd" || fail "daybook.1 does not describe '$c'"
    "$DAYBOOK" "$c" --help >"$T/h1" 2>"$T/e1" || fail "daybook $c --help exits $?"
    "$DAYBOOK" help "$c" >"$T/h2" 2>/dev/null || fail "daybook help $c exits $?"
    [ -s "$T/h1" ] && [ ! -s "$T/e1" ] || fail "daybook $c --help: not on stdout"
    cmp -s "$T/h1" "$T/h2" || fail "daybook $c --help and daybook help $c differ"
    grep -q "^usage: daybook $c" "$T/h1" || fail "daybook $c --help has no usage line"
done
ok "daybook(1) names every command; CMD --help = help CMD for each"

sh -n "$SRC/deploy/daybook-backup.sh" || fail "daybook-backup.sh syntax"
for f in postinst prerm postrm; do
    sh -n "$SRC/deploy/debian/$f" || fail "debian/$f syntax"
    [ -x "$SRC/deploy/debian/$f" ] || fail "debian/$f is not executable"
done
bash -n "$COMP" || fail "completion syntax"
ok "scripts parse"

unit=$SRC/deploy/daybookd.service
for s in User=daybook DynamicUser=no StateDirectory=daybook StateDirectoryMode=0700 \
    ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
    NoNewPrivileges=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
    SystemCallFilter=@system-service SystemCallArchitectures=native CapabilityBoundingSet= \
    UMask=0077 KillSignal=SIGTERM Restart=on-failure RestartPreventExitStatus=2 \
    'ExecStart=/usr/sbin/daybookd serve --config /etc/daybook/daybookd.conf'; do
    grep -qx -- "$s" "$unit" || fail "daybookd.service lacks '$s'"
done
if command -v systemd-analyze >/dev/null; then
    for u in daybookd.service daybookd-backup.service daybookd-backup.timer; do
        # verify complains about binaries not installed here; only syntax matters.
        systemd-analyze verify "$SRC/deploy/$u" 2>&1 |
            grep -vE 'is not executable|No such file|Command .* failed|man:' |
            grep -E "$u" && fail "systemd-analyze verify $u"
    done
    ok "units verify"
fi
ok "daybookd.service has the promised hardening"

echo "deploy.docs: all checks passed"

# README's Dependencies names every package scripts/deps.sh installs (deps.sh is the
# one place the list lives; the README must not fall behind it).
pkgs=$(sed -n '/^\(build\|test\)_pkgs=(/,/^)/p' "$SRC/scripts/deps.sh" |
    sed 's/#.*//' | tr ' ' '\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -v '_pkgs')
[ -n "$pkgs" ] || fail "no packages found in scripts/deps.sh"
for p in $pkgs nodejs npm; do
    grep -q -- "\`$p\`" "$SRC/README.md" || fail "README's Dependencies does not name $p (scripts/deps.sh does)"
done
ok "README names every package of scripts/deps.sh: $(echo $pkgs)"
