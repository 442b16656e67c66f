#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: the SQLite database's filesystem fills up, then space returns
# (issue 16).
#
# The database lives on a 2 MiB tmpfs (mounted here; root only, unmounted
# at exit), and a filler file leaves about 200 KiB free. POSTs then
# succeed until the WAL cannot grow:
#   - a write that finds no space is answered 503 (problem + Retry-After),
#     never a 500, and leaves nothing half-written;
#   - /readyz says 503 while writes cannot succeed;
#   - once the filler is removed, /readyz says 200 within a few seconds and
#     60 writes in a row succeed, on the same process;
#   - every POST answered 201 is stored, before and after a restart.
. "$(dirname "$0")/lib.sh"
only_backends sqlite
[ "$(id -u)" = 0 ] || skip_all "mounting a tmpfs needs root"
command -v sqlite3 >/dev/null || skip_all "the sqlite3 shell is needed"

DISK=$TMP/disk
mkdir -p "$DISK"
mount -t tmpfs -o size=2m tmpfs "$DISK" 2>"$TMP/mount.err" \
    || skip_all "cannot mount a tmpfs here ($(head -c 200 "$TMP/mount.err"))"
_disk_cleanup() {
    local rc=$?
    [ -n "$SERVER_PID" ] && stop_server
    umount -l "$DISK" 2>/dev/null
    (exit "$rc")
    _fault_finish
}
trap _disk_cleanup EXIT

DB_URL="sqlite:$DISK/users.db"
start_server --pool-timeout-ms 500 --statement-timeout-ms 1500
create_user first Disk Full
ID=$USER_ID

# Leave about 200 KiB free.
FREE_KB=$(df -k --output=avail "$DISK" | tail -n 1 | tr -d ' ')
dd if=/dev/zero of="$DISK/filler" bs=1k count=$((FREE_KB - 200)) status=none 2>/dev/null
ok "filler written: $(df -k --output=avail "$DISK" | tail -n 1 | tr -d ' ') KiB left"

# POSTs until several in a row fail (at most 400).
fails=0
for i in $(seq 1 400); do
    res=$(hit POST /users "{\"login\":\"fullw1i$i\",\"first_name\":\"Padpadpadpadpadpadpadpadpad\"}" 5)
    now
    echo "0 $NOW_MS $res fullw1i$i" >>"$TMP/full.load.1"
    case "${res%%|*}" in
        201) fails=0 ;;
        *) fails=$((fails + 1)) ;;
    esac
    [ "$fails" -ge 5 ] && break
done
expect_match "$(status_counts "$TMP/full.load.1")" '201=' "writes succeed while there is space"
expect_match "$(status_counts "$TMP/full.load.1")" '503=' "writes fail once the disk is full"
check_bound full 2700 "201 503"
expect_eq "$(hit GET /readyz "" 5 | cut -d'|' -f1)" 503 "/readyz says 503 while the disk is full"
expect_eq "$(hit GET "/users/$ID" "" 5 | cut -d'|' -f1)" 200 "reads still work on a full disk"

# Space returns.
rm -f "$DISK/filler"
ready=
for i in $(seq 1 50); do
    [ "$(hit GET /readyz "" 2 | cut -d'|' -f1)" = 200 ] && { ready=1; break; }
    sleep 0.1
done
expect_eq "$ready" 1 "/readyz says 200 within 5 s of space returning"
for i in $(seq 1 60); do
    res=$(hit POST /users "{\"login\":\"fullw2i$i\"}" 5)
    now
    echo "0 $NOW_MS $res fullw2i$i" >>"$TMP/full.load.2"
done
expect_eq "$(status_counts "$TMP/full.load.2")" "201=60" "writes succeed again on the same process (60 in a row)"
check_writes full
expect_eq "$(db_exec "SELECT count(*) FROM users WHERE login LIKE 'fullw%'")" \
    "$(cat "$TMP"/full.load.* | awk '{ split($3, f, "|"); if (f[1] == "201") n++ } END { print n + 0 }')" \
    "a write answered 503 for want of space stored nothing"

# A restart finds everything acknowledged.
stop_server
start_server --pool-timeout-ms 500 --statement-timeout-ms 1500
check_writes full
expect_eq "$(hit GET /readyz "" 5 | cut -d'|' -f1)" 200 "/readyz says 200 after a restart"
