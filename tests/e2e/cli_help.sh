#!/usr/bin/env bash
# usersvc --help, --version, COMMAND --help and bad usage.
. "$(dirname "$0")/lib.sh"

run_cli --help
expect_cli_rc 0 "usersvc --help exits 0"
expect_stdout 'serve' "--help (on stdout) names the serve command"
expect_stdout 'migrate' "--help names the migrate command"

run_cli --version
expect_cli_rc 0 "usersvc --version exits 0"
expect_stdout '[0-9]+\.[0-9]+\.[0-9]+' "--version prints a version number"

run_cli -t 5 serve --help
expect_cli_rc 0 "usersvc serve --help exits 0"
for opt in --database --host --port --pool-size --pool-timeout-ms --max-body-bytes --migrate; do
    expect_stdout "$opt" "serve --help lists $opt"
done
for var in DATABASE_URL HOST PORT DB_POOL_SIZE DB_POOL_TIMEOUT_MS MAX_BODY_BYTES; do
    check "serve --help names the variable $var" \
        grep -Eq "(^|[^A-Za-z_])$var([^A-Za-z_]|\$)" "$CLI_OUT"
done
for def in 'sqlite:usersvc\.db' '127\.0\.0\.1' '8080' '2000' '65536'; do
    expect_stdout "$def" "serve --help shows the default $def"
done

run_cli migrate --help
expect_cli_rc 0 "usersvc migrate --help exits 0"
for w in up status down --database; do
    expect_stdout "$w" "migrate --help mentions $w"
done

# Bad usage: non-zero exit (not a crash) and a message.
run_cli
expect_cli_fails "no command at all exits non-zero"
run_cli frobnicate
expect_cli_fails "unknown command exits non-zero"
expect_output 'frobnicate|unknown|usage' "unknown command is named or usage shown"
run_cli -t 5 serve --no-such-flag
expect_cli_fails "unknown flag exits non-zero"
expect_output 'no-such-flag|unknown|unrecognized|usage' "unknown flag is reported"
run_cli -t 5 serve --port abc --database sqlite::memory:
expect_cli_fails "--port abc exits non-zero"
expect_output 'port' "--port abc: the message names the option"
run_cli -t 5 serve --port 70000 --database sqlite::memory:
expect_cli_fails "--port 70000 exits non-zero"
run_cli -t 5 serve --port
expect_cli_fails "--port without a value exits non-zero"
run_cli -t 5 serve --pool-size abc --database sqlite::memory:
expect_cli_fails "--pool-size abc exits non-zero"
run_cli -t 5 serve --max-body-bytes -5 --database sqlite::memory:
expect_cli_fails "--max-body-bytes -5 exits non-zero"
run_cli -t 5 serve --database 'bogus://x' --port 0
expect_cli_fails "unsupported database URL scheme exits non-zero"
run_cli -t 5 migrate sideways --database sqlite::memory:
expect_cli_fails "migrate sideways exits non-zero"
