#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The README's first command: install what is missing, build an optimised
# usersvc, and serve it on SQLite (./usersvc.db) at http://127.0.0.1:8080,
# applying migrations first. Extra arguments go to `usersvc serve`
# (for example: scripts/serve.sh --port 9090). Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh build
if [ ! -f build-release/build.ninja ]; then
    meson setup build-release --buildtype=release
fi
meson compile -C build-release
exec build-release/usersvc serve --migrate "$@"
