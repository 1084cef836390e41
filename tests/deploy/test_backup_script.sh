#!/usr/bin/env bash
# deploy.backup_script: deploy/daybook-backup.sh against a running daybookd, as the
# timer runs it: it writes daybook-YYYYMMDD.db with `daybookd backup`, keeps the
# newest DAYBOOK_BACKUP_KEEP, adds a timestamped file on a second run the same
# day, leaves the old backups alone when the backup fails, and its file restores
# (server stopped, `daybookd restore`, restart: the restore generation goes up).
# Usage: test_backup_script.sh SOURCE_DIR   (env DAYBOOKD: the daybookd binary)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

: "${DAYBOOKD:?set DAYBOOKD to the daybookd binary}"
SRC=${1:?usage: test_backup_script.sh SOURCE_DIR}
SCRIPT=$SRC/deploy/daybook-backup.sh
DATA=$T/data
B=$DATA/backups

start_daybookd serve --data-dir "$DATA"
gen1=$(json_field "$(curl -sS --max-time 10 "http://127.0.0.1:$PORT/healthz")" restore_generation)
[ -n "$gen1" ] || fail "no restore_generation in /healthz"

# Twenty old backups, as if the timer had run for twenty nights.
mkdir -p "$B"
for d in $(seq -w 1 20); do
    : >"$B/daybook-202001$d.db"
done
: >"$B/unrelated.txt"

run_backup() {
    env DAYBOOKD="$DAYBOOKD" DAYBOOK_DATA_DIR="$DATA" DAYBOOK_BACKUP_KEEP=14 \
        sh "$SCRIPT" >"$T/backup.log" 2>&1
}
run_backup || fail "backup script failed: $(cat "$T/backup.log")"
today=$B/daybook-$(date +%Y%m%d).db
[ -s "$today" ] || fail "no $today"
[ "$(stat -c %a "$today")" = 600 ] || fail "backup is not mode 0600"
[ "$(stat -c %a "$B")" = 700 ] || fail "backup directory is not mode 0700"
n=$(find "$B" -name 'daybook-*.db' | wc -l)
[ "$n" = 14 ] || fail "$n backups kept, want 14"
[ ! -e "$B/daybook-20200107.db" ] || fail "an old backup beyond 14 was kept"
[ -e "$B/daybook-20200108.db" ] || fail "one of the newest 14 was removed"
[ -e "$B/unrelated.txt" ] || fail "retention removed a file that is not a backup"
ok "backup while serving, 0600 in a 0700 directory; 14 kept, the oldest removed"

run_backup || fail "second backup failed"
n=$(find "$B" -name "daybook-$(date +%Y%m%d)-*.db" | wc -l)
[ "$n" = 1 ] || fail "a second run the same day did not add a timestamped backup"
[ -s "$today" ] || fail "the second run replaced the day's first backup"
n=$(find "$B" -name 'daybook-*.db' | wc -l)
[ "$n" = 14 ] || fail "$n backups after the second run, want 14"
ok "a second run the same day adds a timestamped backup, still 14 kept"

before=$(ls "$B")
if env DAYBOOKD=/bin/false DAYBOOK_DATA_DIR="$DATA" sh "$SCRIPT" >"$T/fail.log" 2>&1; then
    fail "backup script succeeded with a failing daybookd"
fi
[ "$(ls "$B")" = "$before" ] || fail "a failed backup changed the backup directory"
ok "a failed backup exits non-zero and removes nothing"

# The restore drill: stop, restore the nightly file, start; devices see a new generation.
stop_pid "$DAYBOOKD_PID"
[ "$EXIT" = 0 ] || fail "daybookd exited $EXIT on SIGTERM"
"$DAYBOOKD" restore "$today" --data-dir "$DATA" >"$T/restore.log" 2>&1 ||
    fail "daybookd restore: $(cat "$T/restore.log")"
start_daybookd serve2 --data-dir "$DATA"
gen2=$(json_field "$(curl -sS --max-time 10 "http://127.0.0.1:$PORT/healthz")" restore_generation)
[ "$gen2" -gt "$gen1" ] || fail "restore generation $gen1 -> $gen2, want it raised"
"$DAYBOOKD" check --data-dir "$DATA" >"$T/check.log" 2>&1 || fail "check after restore"
ok "the backup restores: generation $gen1 -> $gen2, check passes"

echo "deploy.backup_script: all checks passed"
