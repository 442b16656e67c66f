# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Sourced: set JWT_PYTHON to a python3 that has PyJWT (python3-jwt) and
# python3-cryptography; return 1 when there is none. Debian's /usr/bin/python3
# is tried too, since a python3 earlier on PATH (pyenv, a venv) may lack them.
JWT_PYTHON=
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import jwt, cryptography' 2>/dev/null; then
        JWT_PYTHON=$(command -v "$p")
        break
    fi
done
[ -n "$JWT_PYTHON" ]
