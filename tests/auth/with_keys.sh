#!/bin/bash
# SPDX-License-Identifier: MIT
# Run a test program with freshly minted keys and tokens (mint.py, PyJWT):
#   with_keys.sh PROGRAM [ARGS...]
# PROGRAM finds them in $AUTH_FIXTURES (keys, JWK Sets, cases/*.jwt minted
# for the clock $AUTH_FIXTURES_NOW). Exits 77 (skip) without PyJWT.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/auth/python.sh
. "$here/python.sh" || exit 77
dir=$(mktemp -d "${TMPDIR:-/tmp}/usersvc-keys.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
export AUTH_FIXTURES=$dir AUTH_FIXTURES_NOW=1800000000
"$JWT_PYTHON" "$here/mint.py" keys "$dir" || exit 1
"$JWT_PYTHON" "$here/mint.py" cases "$dir" "$AUTH_FIXTURES_NOW" || exit 1
"$@"
