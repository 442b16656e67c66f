#!/usr/bin/env bash
# Issue 15: the SQLite database file, and its -wal and -shm files, are created
# readable by their owner only (0600), whatever the umask allows.
. "$(dirname "$0")/lib.sh"
[ "$BACKEND" = sqlite ] || skip_all "SQLite only"
umask 022
new_database
start_server
create_user mode_check
path=${DB_URL#sqlite:}
for f in "$path" "$path-wal" "$path-shm"; do
    check "$(basename "$f") exists" test -e "$f"
    expect_eq "$(stat -c %a "$f" 2>/dev/null)" 600 "$(basename "$f") is created 0600"
done
