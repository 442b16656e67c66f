#!/usr/bin/env bash
# A DATABASE_URL that cannot be used is found at start, whatever the backend
# (issue 14): `serve` and `migrate` exit 2 with a message naming what is
# wrong (the part, or the option), never the password; nothing is connected
# to first. The URL is parsed once, by the ORM, for every backend.
. "$(dirname "$0")/lib.sh"

SECRET=s3cr3tpw

# bad URL | what the message must name (extended regexp)
cases=(
    "mysql://bob:$SECRET@127.0.0.1/db?bogus=1|unknown DATABASE_URL option 'bogus'"
    "mysql://bob:$SECRET@127.0.0.1/db?ssl-mode=SOMETIMES|ssl-mode"
    "mysql://bob:$SECRET@h1,h2/db|one host"
    "postgres://bob:$SECRET@127.0.0.1/db?sslmod=require|unknown DATABASE_URL option 'sslmod'"
    "postgres://bob:$SECRET@127.0.0.1:99999/db|port"
    "postgresql://bob:p@$SECRET@127.0.0.1/db|%40"
    "postgres://bob:$SECRET@127.0.0.1/db?dbname=other|dbname"
    "mysql://bob:$SECRET@[::1/db|IPv6"
    "postgres://bob:$SECRET@127.0.0.1/db#x|fragment"
    "ftp://bob:$SECRET@127.0.0.1/db|unsupported scheme 'ftp'"
    "sqlite:|path"
)
for c in "${cases[@]}"; do
    url=${c%%|*}
    want=${c#*|}
    for cmd in "serve --port 0" "migrate status" "migrate up"; do
        # shellcheck disable=SC2086
        run_cli -t 30 $cmd --database "$url"
        expect_cli_rc 2 "$cmd with '${want}' URL exits 2"
        expect_output "$want" "$cmd: the message names what is wrong ($want)"
        expect_output_not_contains "$SECRET" "$cmd: the password is not shown"
    done
    DATABASE_URL=$url run_cli -t 30 serve --port 0
    expect_cli_rc 2 "DATABASE_URL=... serve exits 2 ($want)"
    expect_output_not_contains "$SECRET" "DATABASE_URL=... serve: the password is not shown"
done

# The read replica's URL is checked at start too.
run_cli -t 30 serve --port 0 --database "sqlite:$TMP/x.db" \
    --database-read "postgres://bob:$SECRET@127.0.0.1/db?sslmod=require"
expect_cli_rc 2 "a bad DATABASE_READ_URL exits 2"
expect_output "DATABASE_READ_URL" "the message says which URL"
expect_output_not_contains "$SECRET" "the replica's password is not shown"
