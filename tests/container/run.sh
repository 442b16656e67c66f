#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The container test (meson suite 'container'): builds the image from the
# Dockerfile with buildah, checks its configuration, runs it the way an
# orchestrator would (image user, image environment, /data volume,
# HEALTHCHECK, SIGTERM), checks that the compose files match it, and runs the
# whole end-to-end suite against the binary inside the image, on SQLite and
# on the test PostgreSQL (USERSVC_TEST_PG_URL, set by scripts/test.sh).
#
# No Docker engine runs here. buildah (Debian package) builds Dockerfiles with
# --isolation chroot, and the debian:bookworm-slim base is made locally with
# debootstrap from the Debian mirror this machine's apt uses, then committed
# as docker.io/library/debian:bookworm-slim. It is kept in buildah's storage
# and as a tarball in $USERSVC_CACHE (default ~/.cache/usersvc), so later runs
# skip debootstrap; `buildah bud --layers` caches the apt steps as well.
#
# Environment:
#   USERSVC_BUILD_DIR     meson build dir (for the list of e2e tests)
#   USERSVC_CACHE         cache dir (default ${XDG_CACHE_HOME:-~/.cache}/usersvc)
#   USERSVC_REFRESH_BASE=1  debootstrap the base again (security updates)
#   USERSVC_TEST_PG_URL   admin URL of a PostgreSQL server; without it the
#                         PostgreSQL run is skipped
#   USERSVC_TEST_JOBS     e2e tests at once (default 4)
#   USERSVC_TEST_KEEP=1   keep the work dir (build log, e2e logs)
#   USERSVC_IMAGE_UNIT_TESTS=0  build without the builder's unit-test gate
#                         (to look at the rest while a unit test is red)
#
# Exits 77 (skip) only when buildah cannot work on this machine at all.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${USERSVC_BUILD_DIR:-$ROOT/build}
CACHE=${USERSVC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/usersvc}
BASE=docker.io/library/debian:bookworm-slim
IMAGE=localhost/usersvc:test
IMAGE_ID=
JOBS=${USERSVC_TEST_JOBS:-4}
T0=$(date +%s)

T_N=0
T_FAILED=0
CONTAINERS=()
SMOKE_PID=

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
not_ok() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/#   /'; }
note() { echo "# $*"; }
check() {  # check DESC CMD...
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}
expect_eq() {  # expect_eq ACTUAL EXPECTED DESC
    if [ "$1" == "$2" ]; then ok "$3"; else not_ok "$3"; diag "expected: $2" "got:      $1"; fi
}
elapsed() { echo $(( $(date +%s) - $1 )); }

cleanup() {
    local c
    trap - EXIT INT TERM
    if [ -n "$SMOKE_PID" ]; then
        kill -TERM "$SMOKE_PID" 2>/dev/null
        wait "$SMOKE_PID" 2>/dev/null
    fi
    for c in "${CONTAINERS[@]}"; do
        buildah rm "$c" >/dev/null 2>&1
    done
    if [ "${USERSVC_TEST_KEEP:-}" = 1 ]; then
        note "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}

skip_all() {
    echo "1..0 # SKIP $*"
    exit 77
}

bail() {
    not_ok "$*"
    echo "Bail out! $*"
    echo "1..$T_N"
    exit 1
}

# ---------------------------------------------------------------------------
# Can buildah work here at all?

[ "$(id -u)" -eq 0 ] \
    || skip_all "needs root: rootless buildah needs /etc/subuid ranges (run as root)"
command -v buildah >/dev/null \
    || skip_all "buildah is not installed (scripts/install-deps.sh test installs it)"
buildah info >/dev/null 2>&1 \
    || skip_all "buildah cannot work here: $(buildah info 2>&1 | tail -n 1)"
for tool in jq curl tar; do
    command -v "$tool" >/dev/null || skip_all "$tool is not installed"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/usersvc-container.XXXXXX") || bail "mktemp"
chmod 755 "$WORK"
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Working containers left by an earlier run that was killed (their names carry
# its PID) are removed.
for c in $(buildah containers --format '{{.ContainerName}}' 2>/dev/null); do
    if [[ $c =~ ^usersvc-(volume|vars|smoke|smoke2|e2e)-([0-9]+)-[0-9]+$ ]] \
            && ! kill -0 "${BASH_REMATCH[2]}" 2>/dev/null; then
        buildah rm "$c" >/dev/null 2>&1
    fi
done

# ---------------------------------------------------------------------------
# The base image: debian:bookworm-slim, made with debootstrap

# The mirror this machine's apt uses (deb822 or one-line format).
apt_mirror() {  # apt_mirror debian|debian-security
    local want=$1 uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' \
          | grep -E "/$want/?\$" | head -n 1)
    if [ -z "$uri" ]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
              | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
              | grep -E "/$want/?\$" | head -n 1)
    fi
    echo "${uri:-http://deb.debian.org/$want}"
}

# make_base_tar TAR: debootstrap a minbase bookworm and slim it the way the
# official -slim image is slimmed (no docs, man pages, locales or apt lists).
make_base_tar() {
    local tar=$1 rootfs=$WORK/rootfs mirror security t
    command -v debootstrap >/dev/null \
        || skip_all "debootstrap is not installed (scripts/install-deps.sh test installs it)"
    mirror=$(apt_mirror debian)
    security=$(apt_mirror debian-security)
    note "debootstrap --variant=minbase bookworm from $mirror (about a minute)"
    t=$(date +%s)
    if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
        diag "$(tail -n 20 "$WORK/debootstrap.log")"
        if grep -qiE 'operation not permitted|cannot (mount|chroot)' "$WORK/debootstrap.log"; then
            skip_all "debootstrap cannot work on this machine (see above)"
        fi
        bail "debootstrap bookworm from $mirror"
    fi
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
# As in the official debian:*-slim images: no documentation or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
    echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
    echo 'Acquire::GzipIndexes "true";' >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
    echo 'Apt::AutoRemove::SuggestsImportant "false";' \
        >"$rootfs/etc/apt/apt.conf.d/docker-autoremove-suggests"
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda,locale}/* \
           "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
           "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* \
           "$rootfs"/tmp/* "$rootfs"/root/.bash_history
    : >"$rootfs/etc/machine-id"
    mkdir -p "$(dirname "$tar")"
    tar -C "$rootfs" --numeric-owner --xattrs -cf "$tar.tmp" . && mv "$tar.tmp" "$tar" \
        || bail "write $tar"
    rm -rf "$rootfs"
    ok "debootstrapped bookworm minbase from $mirror in $(elapsed "$t") s ($(du -h "$tar" | cut -f1) tarball, cached)"
}

# import_base TAR: buildah from scratch + the rootfs, committed as $BASE.
import_base() {
    local tar=$1 ctr mnt
    ctr=$(buildah from scratch) || bail "buildah from scratch"
    mnt=$(buildah mount "$ctr") || { buildah rm "$ctr" >/dev/null; bail "buildah mount"; }
    if ! tar -C "$mnt" --numeric-owner --xattrs -xpf "$tar"; then
        buildah umount "$ctr" >/dev/null
        buildah rm "$ctr" >/dev/null
        rm -f "$tar"
        bail "unpack $tar into the container (removed it: the next run makes it again)"
    fi
    buildah umount "$ctr" >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd '["bash"]' --label usersvc.base=debootstrap-bookworm-minbase "$ctr" \
        || bail "buildah config (base)"
    buildah commit --rm --quiet --format docker "$ctr" "$BASE" >/dev/null \
        || bail "buildah commit $BASE"
}

ensure_base() {
    local tar=$CACHE/bookworm-slim.tar t
    t=$(date +%s)
    if [ "${USERSVC_REFRESH_BASE:-}" = 1 ]; then
        rm -f "$tar"
        buildah rmi "$BASE" >/dev/null 2>&1
    fi
    if buildah inspect --type image "$BASE" >/dev/null 2>&1; then
        ok "base image $BASE is in buildah's storage (reused)"
        return
    fi
    if [ -s "$tar" ]; then
        note "importing the cached base $tar"
    else
        make_base_tar "$tar"
    fi
    import_base "$tar"
    ok "base image $BASE committed in $(elapsed "$t") s"
}

# ---------------------------------------------------------------------------
# Build

build_image() {
    local t size
    t=$(date +%s)
    note "buildah bud --layers --pull=never --isolation chroot --format docker -t $IMAGE"
    if ! buildah bud --layers --pull=never --isolation chroot --format docker \
            --build-arg "UNIT_TESTS=${USERSVC_IMAGE_UNIT_TESTS:-1}" \
            --iidfile "$WORK/iid" -f "$ROOT/Dockerfile" -t "$IMAGE" "$ROOT" \
            >"$WORK/build.log" 2>&1; then
        diag "$(grep -E '^\[  FAILED|^not ok|error' "$WORK/build.log" | head -n 20)"
        diag "$(tail -n 40 "$WORK/build.log")"
        bail "the image builds from the Dockerfile"
    fi
    if grep -q 'Ok:' "$WORK/build.log"; then
        diag "unit tests in the builder: $(grep -E '^(Ok|Fail|Skipped):' "$WORK/build.log" \
              | tr -s ' \n' ' ')"
    fi
    # From here on the image is named by its ID: another run may move the tag.
    IMAGE_ID=$(cat "$WORK/iid") || bail "no image id"
    size=$(buildah images --format '{{.Size}}' "$IMAGE_ID" | head -n 1)
    ok "image $IMAGE built from the Dockerfile in $(elapsed "$t") s; size $size"
    echo "# image size: $size"
}

# ---------------------------------------------------------------------------
# The image's configuration

# cfg JQ: a value of the image's config (Docker format: .Docker.config).
CFG=
cfg() { jq -c "$@" <<<"$CFG"; }
cfg_true() { jq -e "$1" <<<"$CFG" >/dev/null; }

# The variables the binary reads, from its own --help in the image.
USERSVC_VARS=
read_vars() {
    local ctr
    new_container usersvc-vars
    ctr=$NEW_CTR
    USERSVC_VARS=$(buildah run --isolation chroot "$ctr" -- /usr/local/bin/usersvc --help 2>&1 \
                   | grep -Eo '^ +[A-Z][A-Z0-9_]+ ' | tr -d ' ' | sort -u | tr '\n' ' ')
    [ -n "$USERSVC_VARS" ] || bail "read the variable names from usersvc --help in the image"
}

check_config() {
    local user uid
    CFG=$(buildah inspect --type image "$IMAGE_ID" | jq -c '.Docker.config') \
        || bail "buildah inspect $IMAGE_ID"
    user=$(cfg -r '.User' | tr -d '"')
    uid=${user%%:*}
    check "runs as a non-root user ($user)" test -n "$uid" -a "$uid" != 0 -a "$uid" != root
    expect_eq "$(cfg '.ExposedPorts | keys')" '["8080/tcp"]' "EXPOSE 8080"
    expect_eq "$(cfg '[.Env[] | select(test("^(HOST|PORT|DATABASE_URL)="))] | sort')" \
        '["DATABASE_URL=sqlite:/data/usersvc.db","HOST=0.0.0.0","PORT=8080"]' \
        "ENV HOST=0.0.0.0 PORT=8080 DATABASE_URL=sqlite:/data/usersvc.db"
    expect_eq "$(cfg '.Volumes | keys')" '["/data"]' "VOLUME /data"
    expect_eq "$(cfg '.StopSignal')" '"SIGTERM"' "STOPSIGNAL SIGTERM"
    expect_eq "$(cfg '.Entrypoint')" '["/usr/local/bin/usersvc"]' "ENTRYPOINT usersvc"
    expect_eq "$(cfg '.Cmd')" '["serve"]' "CMD serve"
    check "HEALTHCHECK is an exec-form command probing /healthz, with interval and timeout" \
        cfg_true '.Healthcheck.Test[0] == "CMD" and (.Healthcheck.Test | tostring | test("/healthz"))
                  and .Healthcheck.Interval > 0 and .Healthcheck.Timeout > 0'
}

# ---------------------------------------------------------------------------
# Run it as an orchestrator would

free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$(( 20000 + RANDOM % 10000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# descendant PID NAME: the first descendant of PID whose command is NAME.
descendant() {
    local queue=("$1") p c
    while [ ${#queue[@]} -gt 0 ]; do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do
            if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = "$2" ]; then
                echo "$c"
                return 0
            fi
            queue+=("$c")
        done
    done
    return 1
}

# new_container NAME [--host-data]: a working container of the image. With
# --host-data, /data is to be bind-mounted from the host (as a named volume
# would be): buildah 1.28's `run --isolation chroot` hides a --volume given
# for a path the image declares as VOLUME behind its own fresh copy of the
# image's directory, so the container forgets the declaration first.
# Sets NEW_CTR (not printed: a $(...) subshell would lose CONTAINERS+=).
new_container() {
    local name="$1-$$-$RANDOM"
    buildah from --pull=never --name "$name" "$IMAGE_ID" >/dev/null || bail "buildah from $IMAGE"
    CONTAINERS+=("$name")
    if [ "${2:-}" = --host-data ]; then
        buildah config --volume /data- "$name" || bail "buildah config --volume /data-"
    fi
    NEW_CTR=$name
}

# crun CTR ARGS...: `buildah run` in CTR as the image's user, with the data
# volume and a port of our own; output in $WORK/crun.out.
crun() {
    local ctr=$1
    shift
    buildah run --isolation chroot --volume "$DATA:/data" --env "PORT=$PORT_NUM" "$ctr" -- "$@" \
        >"$WORK/crun.out" 2>&1
}

smoke_test() {
    local ctr code pid uid i body rc hc user
    local -a entrypoint cmd hc_cmd
    user=$(cfg -r '.User')
    PORT_NUM=$(free_port) || bail "no free port"

    # The image's own volume (a fresh copy of its /data) is the user's.
    new_container usersvc-volume
    ctr=$NEW_CTR
    # Bounded retry: buildah 1.28 chroot runs occasionally lose a short
    # command's stdout (see usersvc-in-container.sh).
    for _ in 1 2 3; do
        buildah run --isolation chroot "$ctr" -- sh -c \
            'touch /data/probe && stat -c "%u:%g %a" /data' >"$WORK/crun.out" 2>&1
        [ -s "$WORK/crun.out" ] && break
    done
    expect_eq "$(head -n 1 "$WORK/crun.out")" "$user 750" \
        "VOLUME /data is owned by the image's user (mode 750) and writable by it"

    # A host directory as /data, prepared as Docker prepares a new named
    # volume (a copy of the image's /data, so owned by its user).
    DATA=$WORK/data
    mkdir -p "$DATA"
    chown "$user" "$DATA" || bail "chown the data volume"
    chmod 750 "$DATA"
    new_container usersvc-smoke --host-data
    ctr=$NEW_CTR
    mapfile -t entrypoint < <(cfg -r '.Entrypoint[]')
    mapfile -t cmd < <(cfg -r '.Cmd[]')

    crun "$ctr" "${entrypoint[@]}" migrate
    rc=$?
    if [ "$rc" = 0 ] && grep -q 'schema is current' "$WORK/crun.out"; then
        ok "'migrate' in the image (its user, its DATABASE_URL on the /data volume)"
    else
        not_ok "'migrate' in the image"; diag "exit $rc" "$(tail -n 20 "$WORK/crun.out")"
    fi

    # Protected by default: the image listens on 0.0.0.0, so without a key
    # set (or client certificates, or ALLOW_UNAUTHENTICATED) serve refuses.
    mkdir -p "$WORK/io"
    USERSVC_CONTAINER=$ctr USERSVC_CONTAINER_IODIR=$WORK/io USERSVC_CONTAINER_MOUNTS= \
        USERSVC_CONTAINER_USER= USERSVC_CONTAINER_UNSET= USERSVC_CONTAINER_ENV=PORT \
        USERSVC_CONTAINER_VOLUMES="$DATA:/data" \
        PORT=$PORT_NUM timeout 60 "$HERE/usersvc-in-container.sh" "${cmd[@]}" \
        >"$WORK/open.out" 2>"$WORK/open.log"
    rc=$?
    expect_eq "$rc" 2 "'serve' with the image's HOST=0.0.0.0 and no authentication exits 2"
    check "... naming AUTH_JWKS_FILE" grep -q AUTH_JWKS_FILE "$WORK/open.log"

    # Authenticated: a JWK Set mounted read-only, as the compose files do,
    # and tokens minted by PyJWT for this run (tests/auth/mint.py).
    KEYS=$WORK/keys
    if ! { . "$ROOT/tests/auth/python.sh" && "$JWT_PYTHON" "$ROOT/tests/auth/mint.py" keys "$KEYS"; }
    then
        not_ok "mint keys for the authenticated container (python3-jwt)"
        return
    fi
    chmod -R a+rX "$KEYS"
    TOKEN=$("$JWT_PYTHON" "$ROOT/tests/auth/mint.py" token "$KEYS" --key ed \
        --scope "users:read users:write metrics:read")
    # The image's own entrypoint and command, environment and user; only PORT
    # and AUTH_JWKS_FILE are ours (the host network is shared).
    USERSVC_CONTAINER=$ctr USERSVC_CONTAINER_IODIR=$WORK/io USERSVC_CONTAINER_MOUNTS= \
        USERSVC_CONTAINER_USER= USERSVC_CONTAINER_UNSET= \
        USERSVC_CONTAINER_ENV="PORT AUTH_JWKS_FILE" \
        USERSVC_CONTAINER_VOLUMES="$DATA:/data $KEYS/jwks.json:/etc/usersvc/jwks.json:ro" \
        PORT=$PORT_NUM AUTH_JWKS_FILE=/etc/usersvc/jwks.json \
        "$HERE/usersvc-in-container.sh" "${cmd[@]}" \
        >"$WORK/smoke.out" 2>"$WORK/smoke.log" &
    SMOKE_PID=$!
    for i in $(seq 1 150); do
        grep -q "listening on http://0.0.0.0:$PORT_NUM" "$WORK/smoke.log" && break
        kill -0 "$SMOKE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q "listening on http://0.0.0.0:$PORT_NUM" "$WORK/smoke.log"; then
        ok "'serve' with a mounted AUTH_JWKS_FILE listens on 0.0.0.0:\$PORT (image defaults HOST=0.0.0.0, DATABASE_URL)"
    else
        not_ok "'serve' listens on 0.0.0.0:$PORT_NUM"; diag "$(tail -n 20 "$WORK/smoke.log")"
        return
    fi
    pid=$(descendant "$SMOKE_PID" usersvc)
    uid=$(ps -o uid= -p "$pid" 2>/dev/null | tr -d ' ')
    expect_eq "$uid" "${user%%:*}" \
        "the server process runs as the image's user (uid $uid, not root)"

    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_NUM/healthz")
    expect_eq "$code" 200 "GET /healthz on the published port"
    body=$(curl -s "http://127.0.0.1:$PORT_NUM/readyz")
    expect_eq "$(jq -c . <<<"$body" 2>/dev/null)" '{"status":"ready","database":"sqlite"}' \
        "GET /readyz: ready, on SQLite"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
           -d '{"login":"nobody"}' "http://127.0.0.1:$PORT_NUM/users")
    expect_eq "$code" 401 "POST /users without a token: 401"
    code=$(curl -s -o "$WORK/user.json" -w '%{http_code}' -H 'Content-Type: application/json' \
           -H "Authorization: Bearer $TOKEN" \
           -d '{"login":"container","first_name":"Ça va 🙂"}' "http://127.0.0.1:$PORT_NUM/users")
    expect_eq "$code" 201 "POST /users with a bearer token (EdDSA, minted by PyJWT)"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
           "http://127.0.0.1:$PORT_NUM/users")
    expect_eq "$code" 200 "GET /users with the token"
    check "the SQLite database is in the volume, owned by the image's user" \
        test "$(stat -c %u:%g "$DATA/usersvc.db" 2>/dev/null)" = "$user"
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_NUM/openapi.json")
    expect_eq "$code" 200 "GET /openapi.json (embedded in the binary)"
    check "GET /metrics (with the token) reports the schema version" \
        bash -c "curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$PORT_NUM/metrics | grep -Eq '^usersvc_schema_version\{backend=\"sqlite\"\} [1-9]'"
    check "the access log names the token's subject" grep -q 'subject=alice' "$WORK/smoke.log"

    # The image's HEALTHCHECK, run in the container as Docker would.
    mapfile -t hc_cmd < <(cfg -r '.Healthcheck.Test[1:][]')
    crun "$ctr" "${hc_cmd[@]}"
    hc=$?
    expect_eq "$hc" 0 "the image's HEALTHCHECK passes against the running server"
    buildah run --isolation chroot --env "PORT=$(free_port)" "$ctr" -- "${hc_cmd[@]}" \
        >/dev/null 2>&1
    hc=$?
    check "the HEALTHCHECK fails when nothing answers (exit $hc)" test "$hc" != 0

    # Only the runtime libraries: every one resolves, no toolchain.
    crun "$ctr" sh -c 'ldd /usr/local/bin/usersvc'
    if grep -q 'not found' "$WORK/crun.out"; then
        not_ok "every shared library of the binary is in the image"; diag "$(cat "$WORK/crun.out")"
    else
        ok "every shared library of the binary is in the image"
    fi
    crun "$ctr" sh -c 'for t in gcc cc meson ninja pkg-config python3 curl wget; do
                           command -v $t; done; exit 0'
    expect_eq "$(tr '\n' ' ' <"$WORK/crun.out")" "" "no build tools, curl or wget in the runtime image"

    # SIGTERM (the image's STOPSIGNAL) stops it gracefully, exit 0.
    kill -TERM "$SMOKE_PID"
    for i in $(seq 1 150); do
        kill -0 "$SMOKE_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SMOKE_PID" 2>/dev/null; then
        not_ok "SIGTERM stops the server within 15 s"
        kill -KILL "$SMOKE_PID"
    fi
    wait "$SMOKE_PID"
    rc=$?
    SMOKE_PID=
    expect_eq "$rc" 0 "on SIGTERM the server drains and exits 0"
    check "its log says it stopped" grep -q 'stopped' "$WORK/smoke.log"

    # The data outlives the container: a new one sees the migrated schema.
    new_container usersvc-smoke2 --host-data
    ctr=$NEW_CTR
    crun "$ctr" "${entrypoint[@]}" migrate status
    rc=$?
    expect_eq "$rc" 0 "a new container on the same volume: 'migrate status' says current"
}

# ---------------------------------------------------------------------------
# The compose files use the image's variables, port and healthcheck

# compose_value FILE SERVICE KEY: the value of "KEY:" within SERVICE's block
# (first match, indentation-based; the compose files keep one key a line).
compose_value() {
    awk -v svc="$2" -v key="$3" '
        /^[^ #]/ { top = $0 }
        top == "services:" && $0 ~ "^  [A-Za-z0-9_-]+:$" { in_svc = ($0 == "  " svc ":") ; next }
        in_svc {
            line = $0
            sub(/^ +/, "", line)
            if (index(line, key ":") == 1) {
                v = substr(line, length(key) + 2)
                sub(/^ +/, "", v)
                print v
                exit
            }
        }' "$1"
}

# compose_env_keys FILE SERVICE: the variable names in SERVICE's environment.
compose_env_keys() {
    awk -v svc="$2" '
        /^[^ #]/ { top = $0 }
        top == "services:" && $0 ~ "^  [A-Za-z0-9_-]+:$" { in_svc = ($0 == "  " svc ":"); in_env = 0; next }
        in_svc && $0 ~ /^    [a-z_]+:/ { in_env = ($0 ~ /^    environment:$/); next }
        in_svc && in_env && $0 ~ /^      [A-Za-z_][A-Za-z0-9_]*:/ {
            k = $1; sub(/:$/, "", k); print k
        }' "$1"
}

# image_env NAME: the image's value of an ENV variable.
image_env() { cfg -r --arg k "$1" '.Env[] | select(startswith($k + "=")) | sub("^[^=]*="; "")'; }

check_compose() {
    local f svc want_hc got k unknown port
    want_hc=$(cfg '.Healthcheck.Test')
    port=$(cfg -r '.ExposedPorts | keys[0] | sub("/tcp$"; "")')
    for f in docker-compose.yml docker-compose.mariadb.yml; do
        svc=usersvc
        if [ ! -f "$ROOT/$f" ]; then
            not_ok "$f exists"
            continue
        fi
        expect_eq "$(compose_value "$ROOT/$f" "$svc" HOST | tr -d '"')" "$(image_env HOST)" \
            "$f: HOST as in the image"
        expect_eq "$(compose_value "$ROOT/$f" "$svc" PORT | tr -d '"')" "$(image_env PORT)" \
            "$f: PORT as in the image"
        unknown=
        for k in $(compose_env_keys "$ROOT/$f" "$svc"); do
            case " $USERSVC_VARS " in *" $k "*) ;; *) unknown+="$k " ;; esac
        done
        check "$f: every variable it sets is one usersvc reads (${unknown:-all known})" \
            test -z "$unknown" -a -n "$(compose_env_keys "$ROOT/$f" "$svc")"
        got=$(compose_value "$ROOT/$f" "$svc" DATABASE_URL)
        case "$f" in
            *mariadb*) check "$f: DATABASE_URL is a mysql:// URL ($got)" \
                           grep -Eq '^"?mysql://' <<<"$got" ;;
            *)         check "$f: DATABASE_URL is a postgres:// URL ($got)" \
                           grep -Eq '^"?postgres(ql)?://' <<<"$got" ;;
        esac
        expect_eq "$(compose_value "$ROOT/$f" "$svc" ports)" "[\"127.0.0.1:$port:$port\"]" \
            "$f: publishes the EXPOSEd port $port on the host's loopback only"
        check "$f: no default password (\${VAR:-...} or a literal)" \
            bash -c "! grep -E '(^|[^_A-Z])(POSTGRES|MARIADB|MYSQL)_PASSWORD(:-|: +\"?[^\$\" ])' '$ROOT/$f'"
        expect_eq "$(compose_value "$ROOT/$f" "$svc" AUTH_JWKS_FILE | tr -d '"')" \
            /etc/usersvc/jwks.json "$f: authenticated (AUTH_JWKS_FILE)"
        check "$f: mounts the key set read-only where AUTH_JWKS_FILE points" \
            grep -Eq -- '- .*:/etc/usersvc/jwks.json:ro$' "$ROOT/$f"
        # "$$" is compose's escape for a literal "$".
        expect_eq "$(compose_value "$ROOT/$f" "$svc" test | sed 's/\$\$/$/g' | jq -c . 2>/dev/null)" \
            "$want_hc" "$f: healthcheck is the image's HEALTHCHECK"
        expect_eq "$(compose_value "$ROOT/$f" "$svc" stop_signal)" SIGTERM \
            "$f: stop_signal SIGTERM"
        expect_eq "$(compose_value "$ROOT/$f" "$svc" context)" . \
            "$f: builds this Dockerfile"
    done
}

# ---------------------------------------------------------------------------
# The end-to-end suite against the binary in the image

e2e() {
    local ctr rc
    new_container usersvc-e2e
    ctr=$NEW_CTR
    mkdir -p "$WORK/tmp" "$WORK/logs" "$WORK/io"
    chmod 1777 "$WORK/tmp"
    # As root in the container: the tests' temp dirs are mode 0700 and owned
    # by root (mktemp -d), and the tests' sqlite3 CLI writes the same files.
    # Running as the image's user is covered by smoke_test above.
    export USERSVC_CONTAINER=$ctr USERSVC_CONTAINER_USER=0:0 USERSVC_CONTAINER_IODIR=$WORK/io \
        USERSVC_CONTAINER_UNSET="HOST PORT DATABASE_URL" \
        USERSVC_CONTAINER_MOUNTS=$WORK/tmp USERSVC_CONTAINER_ENV="$USERSVC_VARS" \
        USERSVC_BUILD_DIR=$BUILD E2E_BIN=$HERE/usersvc-in-container.sh E2E_JOBS=$JOBS
    TMPDIR=$WORK/tmp USERSVC_TEST_BACKEND=sqlite E2E_LOG_DIR=$WORK/logs/sqlite \
        "$HERE/run_e2e.sh" container-e2e/sqlite
    rc=$?
    [ "$rc" = 0 ] && ok "the e2e suite passes against the image on SQLite" \
        || not_ok "the e2e suite passes against the image on SQLite"
    if [ -n "${USERSVC_TEST_PG_URL:-}" ]; then
        TMPDIR=$WORK/tmp USERSVC_TEST_BACKEND=postgres E2E_LOG_DIR=$WORK/logs/postgres \
            "$HERE/run_e2e.sh" container-e2e/postgres
        rc=$?
        [ "$rc" = 0 ] && ok "the e2e suite passes against the image on PostgreSQL" \
            || not_ok "the e2e suite passes against the image on PostgreSQL"
    else
        ok "the e2e suite against the image on PostgreSQL # SKIP USERSVC_TEST_PG_URL not set (scripts/test.sh sets it)"
    fi
}

# ---------------------------------------------------------------------------

ensure_base
build_image
read_vars
check_config
smoke_test
check_compose
e2e
note "container test took $(elapsed "$T0") s"
echo "1..$T_N"
if [ "$T_FAILED" -gt 0 ]; then
    echo "# $T_FAILED of $T_N checks failed"
    exit 1
fi
exit 0
