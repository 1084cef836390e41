#!/bin/sh
# Nightly backup of the Daybook store, run by daybookd-backup.service (as the
# daybook user) or by hand:  sudo -u daybook /usr/libexec/daybook/daybook-backup.sh
#
# Writes BACKUP_DIR/daybook-YYYYMMDD.db with `daybookd backup` (SQLite's online
# backup: safe while the server runs) and keeps the newest KEEP backups.
# Settings, from the environment:
#   DAYBOOKD              the daybookd binary      (default /usr/sbin/daybookd)
#   DAYBOOK_DATA_DIR      the live data directory  (default /var/lib/daybook)
#   DAYBOOK_BACKUP_DIR    where backups go         (default $DAYBOOK_DATA_DIR/backups)
#   DAYBOOK_BACKUP_KEEP   how many to keep         (default 14)
# Exit status: 0 when the backup was written, non-zero otherwise (old backups are
# then left alone).
set -eu

DAYBOOKD=${DAYBOOKD:-/usr/sbin/daybookd}
DATA_DIR=${DAYBOOK_DATA_DIR:-/var/lib/daybook}
BACKUP_DIR=${DAYBOOK_BACKUP_DIR:-$DATA_DIR/backups}
KEEP=${DAYBOOK_BACKUP_KEEP:-14}

case $KEEP in
    '' | *[!0-9]* | 0) echo "daybook-backup: DAYBOOK_BACKUP_KEEP must be a number >= 1" >&2; exit 2 ;;
esac

umask 077
mkdir -p "$BACKUP_DIR"
chmod 0700 "$BACKUP_DIR"

name="daybook-$(date +%Y%m%d).db"
if [ -e "$BACKUP_DIR/$name" ]; then
    # A second run on the same day keeps the first and adds a timestamped one.
    name="daybook-$(date +%Y%m%d-%H%M%S).db"
fi
partial="$BACKUP_DIR/.partial-$name"
rm -f "$partial"

# `daybookd backup` refuses to overwrite; write beside, then rename, so a
# half-written file never looks like a backup.
if ! "$DAYBOOKD" backup "$partial" --data-dir "$DATA_DIR"; then
    rm -f "$partial"
    echo "daybook-backup: backup failed; kept the existing backups" >&2
    exit 1
fi
mv -f "$partial" "$BACKUP_DIR/$name"
echo "daybook-backup: wrote $BACKUP_DIR/$name"

# Retention: the names sort by date (glob order), so the first ones are the oldest.
total=0
for f in "$BACKUP_DIR"/daybook-[0-9]*.db; do
    [ -f "$f" ] && total=$((total + 1))
done
excess=$((total - KEEP))
for f in "$BACKUP_DIR"/daybook-[0-9]*.db; do
    [ "$excess" -gt 0 ] || break
    [ -f "$f" ] || continue
    rm -f "$f"
    excess=$((excess - 1))
    echo "daybook-backup: removed old backup ${f##*/}"
done
