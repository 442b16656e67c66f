#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# usersvc-in-container.sh ARGS...: runs `/usr/local/bin/usersvc ARGS...` inside
# a working container of the usersvc image (buildah run --isolation chroot,
# which shares the host's network, so 127.0.0.1 and the ports are the host's).
# tests/container/run.sh points the end-to-end tests' USERSVC_BIN here, so the
# suite exercises the image's binary, libraries and filesystem.
#
# Environment (set by run.sh):
#   USERSVC_CONTAINER        the working container (buildah from usersvc:test)
#   USERSVC_CONTAINER_IODIR  a host directory for the process's output files
#                            (bind-mounted at the same path)
#   USERSVC_CONTAINER_MOUNTS colon-separated host directories, bind-mounted at
#                            the same path (the tests' TMPDIR: sqlite files, logs)
#   USERSVC_CONTAINER_VOLUMES further HOST:CONTAINER bind mounts, space-separated
#   USERSVC_CONTAINER_ENV    names of the variables usersvc reads (from its
#                            --help); those set here are passed in
#   USERSVC_CONTAINER_UNSET  names of image ENV defaults to remove unless set
#                            here (the e2e run: HOST PORT DATABASE_URL)
#   USERSVC_CONTAINER_USER   user[:group] to run as (default: the image's USER)
#
# What a caller of the real binary sees is kept:
# - environment: with USERSVC_CONTAINER_UNSET the image's defaults give way
#   to the binary's built-in ones, as when the tests run it directly (the
#   image's defaults are tested by run.sh's smoke test);
# - signals: `buildah run` answers SIGTERM/SIGINT by SIGKILLing the command.
#   Here they are forwarded to the usersvc process itself (no PID namespace
#   with chroot isolation: it is our descendant), so graceful shutdown and
#   its exit status are what the tests check; SIGHUP (reload the key set)
#   is forwarded the same way;
# - exit status: buildah's, which is the command's;
# - output: the process writes its stdout and stderr to files in the I/O
#   directory, which are streamed to ours as they grow (tail --pid). buildah
#   1.28 relays a chroot command's output through pipes of its own and was
#   seen to drop a short-lived command's stdout now and then; files cannot.
#   buildah's own messages ("subprocess exited with status N", ...) are left
#   out; anything else it says goes to our stderr.
set -uo pipefail

ctr=${USERSVC_CONTAINER:?USERSVC_CONTAINER must name a buildah working container}
io_root=${USERSVC_CONTAINER_IODIR:?USERSVC_CONTAINER_IODIR must name a directory}
io=$(mktemp -d "$io_root/io.XXXXXX") || exit 125
chmod 755 "$io"
: >"$io/out"
: >"$io/err"
chmod 666 "$io/out" "$io/err"

run_args=(--isolation chroot --volume "$io_root:$io_root")
if [ -n "${USERSVC_CONTAINER_USER:-}" ]; then
    run_args+=(--user "$USERSVC_CONTAINER_USER")
fi
IFS=: read -r -a mounts <<<"${USERSVC_CONTAINER_MOUNTS:-}"
for d in "${mounts[@]}"; do
    [ -n "$d" ] || continue
    run_args+=(--volume "$d:$d")
    case "$PWD/" in "$d"/*) run_args+=(--workingdir "$PWD") ;; esac
done
for v in ${USERSVC_CONTAINER_VOLUMES:-}; do
    run_args+=(--volume "$v")
done

env_cmd=(/usr/bin/env)
for v in ${USERSVC_CONTAINER_UNSET:-}; do
    env_cmd+=(-u "$v")
done
for v in ${USERSVC_CONTAINER_ENV:-}; do
    if [ -n "${!v+x}" ]; then
        env_cmd+=("$v=${!v}")
    fi
done
env_cmd+=("USERSVC_IO=$io")

# descendant NAME: the PID of our first descendant whose command is NAME.
descendant() {
    local queue=("$$") p c
    while [ ${#queue[@]} -gt 0 ]; do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do
            if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = "$1" ]; then
                echo "$c"
                return 0
            fi
            queue+=("$c")
        done
    done
    return 1
}

# forward SIG: to usersvc; before it runs (or after it ended), to buildah.
forward() {
    local pid
    pid=$(descendant usersvc) || pid=$(descendant buildah) || return 0
    kill -s "$1" "$pid" 2>/dev/null
}

trap 'forward TERM' TERM
trap 'forward INT' INT
trap 'forward HUP' HUP
# sh only sets up the redirections and execs usersvc (same PID, same name).
# buildah's own temporary files stay out of the tests' TMPDIR, which may be
# one of the mounts.
run_once() {
    TMPDIR=${USERSVC_BUILDAH_TMPDIR:-/var/tmp} \
        buildah run "${run_args[@]}" "$ctr" -- "${env_cmd[@]}" /bin/sh -c \
            'exec "$@" >>"$USERSVC_IO/out" 2>>"$USERSVC_IO/err"' sh /usr/local/bin/usersvc \
            "$@" >"$io/buildah.out" 2>"$io/buildah.err" &
    job=$!
    tail -q -f -n +1 -s 0.05 --pid="$job" "$io/out" &
    tail_out=$!
    tail -q -f -n +1 -s 0.05 --pid="$job" "$io/err" >&2 &
    tail_err=$!

    # wait returns early (status > 128) when a trapped signal arrives; bash
    # keeps the job's status, so a last wait after it ended returns that.
    while kill -0 "$job" 2>/dev/null; do
        wait "$job"
    done
    wait "$job"
    rc=$?
    wait "$tail_out" "$tail_err"
}

# buildah 1.28 sometimes fails to set up a container when many start at once
# ("error running subprocess: bind mounting .../.containerenv ...: no such
# file or directory"), before usersvc ever ran: only that failure, with no
# output from usersvc at all, is tried again, a bounded number of times.
for attempt in 1 2 3; do
    run_once "$@"
    if [ "$rc" -eq 0 ] || [ -s "$io/out" ] || [ -s "$io/err" ] ||
       ! grep -q 'error running subprocess' "$io/buildah.err"; then
        break
    fi
    echo "usersvc-in-container: buildah could not set up the container (attempt $attempt)" >&2
done
cat "$io/buildah.out"
sed -E '/^(subprocess exited (with status [0-9]+|on [a-z]+)|Error: exit status [0-9]+)$/d' \
    "$io/buildah.err" >&2
rm -rf "$io"
exit "$rc"
