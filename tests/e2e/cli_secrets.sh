#!/usr/bin/env bash
# Passwords in database URLs never appear in output, whatever goes wrong.
. "$(dirname "$0")/lib.sh"

closed=$(free_port) || bail "no free port"
SECRET=s3cr3tpw

for url in "postgres://usersvc:$SECRET@127.0.0.1:$closed/usersvc" \
           "postgresql://usersvc:$SECRET@127.0.0.1:$closed/usersvc?sslmode=disable" \
           "mysql://usersvc:$SECRET@127.0.0.1:$closed/usersvc"; do
    scheme=${url%%:*}
    run_cli -t 30 serve --database "$url" --port 0 --pool-timeout-ms 300
    expect_cli_fails "$scheme: serve against a closed port exits non-zero"
    expect_output_not_contains "$SECRET" "$scheme: serve does not print the password"
    check "$scheme: serve says something on stderr" test -s "$CLI_ERR"

    run_cli -t 30 migrate status --database "$url"
    expect_cli_fails "$scheme: migrate status against a closed port exits non-zero"
    expect_output_not_contains "$SECRET" "$scheme: migrate status does not print the password"

    run_cli -t 30 migrate up --database "$url"
    expect_cli_fails "$scheme: migrate up against a closed port exits non-zero"
    expect_output_not_contains "$SECRET" "$scheme: migrate up does not print the password"

    DATABASE_URL=$url run_cli -t 30 serve --port 0
    expect_cli_fails "$scheme: serve with DATABASE_URL against a closed port exits non-zero"
    expect_output_not_contains "$SECRET" "$scheme: DATABASE_URL password not printed"
done

# A percent-encoded password is not printed either, encoded or decoded.
run_cli -t 30 migrate status --database "postgres://u:p%40ss$SECRET@127.0.0.1:$closed/db"
expect_cli_fails "percent-encoded password: non-zero"
expect_output_not_contains "$SECRET" "percent-encoded password not printed"

# A password given as a libpq query parameter is hidden too.
run_cli -t 30 migrate status --database "postgres://u@127.0.0.1:$closed/db?password=$SECRET&sslmode=disable"
expect_cli_fails "password in the query string: non-zero"
expect_output_not_contains "$SECRET" "password in the query string not printed"
run_cli -t 30 serve --port 0 --database "postgresql://127.0.0.1:$closed/db?user=u&password=$SECRET"
expect_cli_fails "serve, password in the query string: non-zero"
expect_output_not_contains "$SECRET" "serve: password in the query string not printed"

# With the real database of this run: a wrong password is refused and not printed.
case "$BACKEND" in
    postgres|postgresql|pg|mysql|mariadb)
        new_database
        if [ -n "$DB_SECRET" ]; then
            bad_url=${DB_URL/:$DB_SECRET@/:wrong$SECRET@}
            run_cli -t 30 migrate status --database "$bad_url"
            expect_cli_fails "$BACKEND: wrong password refused"
            expect_output_not_contains "$SECRET" "$BACKEND: wrong password not printed"
            run_cli -t 30 migrate up --database "$DB_URL"
            expect_cli_rc 0 "$BACKEND: migrate up with the right password"
            expect_output_not_contains "$DB_SECRET" "$BACKEND: migrate output hides the real password"
        fi
        ;;
esac
