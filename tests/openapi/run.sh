#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The OpenAPI test (meson suite 'openapi'): runs the whole e2e suite once on
# SQLite with response recording on (tests/e2e/lib.sh writes one JSON line
# per response to $USERSVC_RECORD_DIR), then validates openapi.json itself
# and every recorded response against it (validate.mjs: status documented
# for the path and method, required headers, content type, body schema).
#
# Node (>= 18) and npm come from Debian or NodeSource; the validator's
# packages are pinned by package-lock.json and installed with `npm ci` into
# $USERSVC_CACHE/openapi-node (default ~/.cache/usersvc/openapi-node), again
# only when the lock file changes. The same packages include Redocly CLI
# (lint with the recommended rules) and Dredd (runs the document's examples
# against a real server).
#
# Environment: USERSVC_BUILD_DIR (meson build dir), USERSVC_CACHE,
# USERSVC_TEST_JOBS (e2e tests at once, default 4), USERSVC_TEST_KEEP=1.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${USERSVC_BUILD_DIR:-$ROOT/build}
CACHE=${USERSVC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/usersvc}
NODE_DIR=$CACHE/openapi-node
T0=$(date +%s)

skip_all() { echo "1..0 # SKIP $*"; exit 77; }
bail() { echo "not ok - $*"; echo "Bail out! $*"; exit 1; }

for tool in node npm jq curl; do
    command -v "$tool" >/dev/null \
        || skip_all "$tool is not installed (scripts/install-deps.sh test installs it)"
done
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 18 ] || skip_all "node $major is too old (the validator needs >= 18)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/usersvc-openapi.XXXXXX") || bail "mktemp"
cleanup() {
    if [ "${USERSVC_TEST_KEEP:-}" = 1 ]; then echo "# kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The validator's dependencies, exactly as locked.
stamp=$(cat "$HERE/package.json" "$HERE/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$NODE_DIR/.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -d "$NODE_DIR/node_modules" ]; then
    mkdir -p "$NODE_DIR" || bail "mkdir $NODE_DIR"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$NODE_DIR/"
    echo "# npm ci into $NODE_DIR"
    if ! (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1; then
        sed 's/^/#   /' "$WORK/npm.log" | tail -n 20
        bail "npm ci (the npm registry must be reachable on the first run)"
    fi
    echo "$stamp" >"$NODE_DIR/.stamp"
fi
cp "$HERE/validate.mjs" "$NODE_DIR/validate.mjs"

# The e2e suite on SQLite, recording every response.
mkdir -p "$WORK/records" "$WORK/tmp"
USERSVC_RECORD_DIR=$WORK/records USERSVC_TEST_BACKEND=sqlite USERSVC_BUILD_DIR=$BUILD \
    E2E_JOBS=${USERSVC_TEST_JOBS:-4} E2E_LOG_DIR=$WORK/logs TMPDIR=$WORK/tmp \
    "$ROOT/tests/container/run_e2e.sh" openapi-e2e/sqlite
e2e_rc=$?
if [ "$e2e_rc" = 0 ]; then
    echo "ok - the e2e suite passed while recording"
else
    # Its failures are the e2e suite's to report; the responses it recorded
    # are validated all the same.
    echo "# some e2e tests failed (see above); validating what they recorded"
fi

# What the e2e suite reaches only with plain curl (bodies that are not JSON)
# or not at all, recorded the same way against a server of our own; and the
# document served must be the repository's openapi.json.
record_extra() {
    local bin=$BUILD/usersvc pid port i spec method path code out=$WORK/records/openapi_extra.jsonl
    "$bin" serve --database "sqlite:$WORK/extra.db" --host 127.0.0.1 --port 0 --migrate \
        >/dev/null 2>"$WORK/extra.log" </dev/null &
    pid=$!
    for i in $(seq 1 100); do
        port=$(grep -Eo 'listening on http://127\.0\.0\.1:[0-9]+' "$WORK/extra.log" | sed 's/.*://')
        [ -n "$port" ] && break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "not ok - a server for the extra requests started"; kill "$pid" 2>/dev/null
        return 1
    fi
    for spec in 'GET /metrics' 'HEAD /metrics' 'GET /openapi.json' 'HEAD /openapi.json' \
                'HEAD /readyz' 'GET /readyz' 'HEAD /healthz' 'PUT /metrics' 'POST /openapi.json' \
                'GET /users/1' 'HEAD /users/1' 'GET /users?limit=100'; do
        method=${spec% *}
        path=${spec#* }
        : >"$WORK/h"
        : >"$WORK/b"
        if [ "$method" = HEAD ]; then
            code=$(curl -s -I -o /dev/null -D "$WORK/h" -w '%{http_code}' "http://127.0.0.1:$port$path")
        else
            code=$(curl -s -X "$method" -o "$WORK/b" -D "$WORK/h" -w '%{http_code}' \
                   "http://127.0.0.1:$port$path")
        fi
        jq -cn --arg method "$method" --arg path "$path" --argjson status "${code:-0}" \
            --rawfile headers "$WORK/h" --rawfile body "$WORK/b" \
            '{test: "openapi_extra", method: $method, path: $path, status: $status,
              headers: $headers, body: $body}' >>"$out"
        if [ "$spec" = 'GET /openapi.json' ]; then
            if [ "$code" = 200 ] && [ "$(jq -S . "$WORK/b")" == "$(jq -S . "$ROOT/openapi.json")" ]; then
                echo "ok - GET /openapi.json serves the repository's openapi.json"
            else
                echo "not ok - GET /openapi.json serves the repository's openapi.json (status $code)"
                EXTRA_FAILED=1
            fi
        fi
    done
    kill -TERM "$pid"
    wait "$pid"
}
EXTRA_FAILED=0
record_extra || EXTRA_FAILED=1

node "$NODE_DIR/validate.mjs" "$ROOT/openapi.json" "$WORK/records"
rc=$?
[ "$EXTRA_FAILED" = 0 ] || rc=1

# Two independent tools on the document. Redocly CLI with its recommended
# rules: no error and no warning.
lint_out=$WORK/redocly.txt
(cd "$NODE_DIR" && NO_UPDATE_NOTIFIER=1 REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
    timeout 120 npx --no-install redocly lint --extends=recommended --format=summary \
    "$ROOT/openapi.json") >"$lint_out" 2>&1
lint_rc=$?
if [ "$lint_rc" = 0 ] && grep -q 'Your API description is valid' "$lint_out" \
        && ! grep -Eq '^(error|warning) ' "$lint_out"; then
    echo "ok - redocly lint --extends=recommended: no error, no warning"
else
    grep -E '^(error|warning) |validat' "$lint_out" | sed 's/^/#   /'
    echo "not ok - redocly lint --extends=recommended (exit $lint_rc)"
    rc=1
fi

# Dredd sends every operation's documented example request to a fresh server
# and checks the answer against the documented response (its hooks,
# dredd-hooks.cjs, say which transactions it cannot run and why).
dredd_run() {
    local pid port i out=$WORK/dredd.txt
    "$BUILD/usersvc" serve --database "sqlite:$WORK/dredd.db" --host 127.0.0.1 --port 0 \
        --migrate >/dev/null 2>"$WORK/dredd-server.log" </dev/null &
    pid=$!
    for i in $(seq 1 100); do
        port=$(grep -Eo 'listening on http://127\.0\.0\.1:[0-9]+' "$WORK/dredd-server.log" \
               | sed 's/.*://')
        [ -n "$port" ] && break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        echo "not ok - a server for Dredd started"; kill "$pid" 2>/dev/null; wait "$pid"
        return 1
    fi
    cp "$HERE/dredd-hooks.cjs" "$NODE_DIR/dredd-hooks.cjs"
    (cd "$NODE_DIR" && timeout 180 npx --no-install dredd "$ROOT/openapi.json" \
        "http://127.0.0.1:$port" --hookfiles="$NODE_DIR/dredd-hooks.cjs" --color=false) \
        >"$out" 2>&1
    local drc=$?
    kill -TERM "$pid"
    wait "$pid"
    local line passing
    line=$(grep -E '^complete: [0-9]+ passing' "$out" | tail -n 1)
    passing=$(sed -E 's/^complete: ([0-9]+) passing.*/\1/' <<<"$line")
    grep -E '^(pass|fail|error): ' "$out" | sed 's/^/#   /'
    # Every operation with a success example (health, readiness, metrics,
    # the document, list, create, read, two updates, delete) must have run.
    if [ "$drc" = 0 ] && [[ "$line" == *" 0 failing, 0 errors"* ]] && [ "${passing:-0}" -ge 10 ]; then
        echo "ok - dredd: ${line#complete: }"
    else
        grep -E '^fail: (headers|body|statusCode)' "$out" | sed 's/^/#   /'
        echo "not ok - dredd (exit $drc): ${line:-no summary}"
        return 1
    fi
}
dredd_run || rc=1
echo "# openapi test took $(( $(date +%s) - T0 )) s"
exit "$rc"
