# SPDX-License-Identifier: MIT
#
# usersvc container image: a multi-stage build on debian:bookworm-slim.
#
#   docker build -t usersvc .                      # or: buildah bud --format docker -t usersvc .
#   docker run -d --name usersvc -p 8080:8080 -v usersvc-data:/data usersvc serve --migrate
#   docker run --rm -v usersvc-data:/data usersvc migrate          # apply migrations only
#   docker run --rm -v usersvc-data:/data usersvc migrate status   # exit 0 when current
#   docker run --rm -e DATABASE_URL='postgres://app:secret@db:5432/users' usersvc migrate
#
# The default command is `serve`, which refuses to start while migrations are
# pending (and names them): run `migrate` once per release, or use
# `serve --migrate` (concurrent runs are serialised by a database lock, so
# several replicas may all start with --migrate). Configuration comes from the
# environment (README "Configuration"); set the port with PORT, since the
# HEALTHCHECK below probes 127.0.0.1:$PORT.
#
# tests/container/run.sh builds this file with buildah and runs the end-to-end
# suite against the image on SQLite and PostgreSQL.

# ---------------------------------------------------------------------------
# Build stage: compiler, meson and the -dev packages (scripts/install-deps.sh
# build), plus cmocka for the unit tests.
FROM debian:bookworm-slim AS build

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        meson ninja-build pkg-config gcc libc6-dev python3 \
        libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev libmariadb-dev \
        libgnutls28-dev libcmocka-dev python3-jwt python3-cryptography \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the build reads (.dockerignore keeps the context to the same
# list), most stable first so that layer caching survives doc and test edits.
# tests/ brings only its meson.build, the unit tests and what they link or
# run under (the shared fixtures of tests/lib/, the test-only models of
# tests/resource/, tests/auth/: the PyJWT minting the auth unit tests run
# under): the other test folders are optional subdirs that meson skips when
# absent.
COPY meson.build meson_options.txt openapi.json ./
COPY base/ base/
COPY migrations/ migrations/
COPY orm/ orm/
COPY auth/ auth/
COPY http/ http/
COPY service/ service/
COPY handlers/ handlers/
COPY tests/meson.build tests/
COPY tests/unit/ tests/unit/
COPY tests/auth/ tests/auth/
COPY tests/lib/ tests/lib/
COPY tests/resource/ tests/resource/

# The shipped binary: release build, tests off, stripped, installed under
# /out/usr/local. Migrations and openapi.json are embedded in it.
RUN meson setup --buildtype=release -Dtests=false -Dbench=false /build/release /src \
 && meson compile -C /build/release \
 && meson install -C /build/release --destdir /out --strip

# The unit tests gate the image: a separate -Dtests=true build dir (the same
# sources compiled once more with the cmocka tests, well under a minute on two
# cores) and `meson test --suite unit`, which needs no database server (the
# suites that do run in scripts/test.sh). --build-arg UNIT_TESTS=0 skips this
# step, for looking at the rest while a unit test is red; never for releases.
ARG UNIT_TESTS=1
RUN if [ "$UNIT_TESTS" = 1 ]; then \
        meson setup --buildtype=release -Dtests=true -Dbench=false /build/unit /src \
     && meson compile -C /build/unit \
     && meson test -C /build/unit --no-rebuild --suite unit --print-errorlogs; \
    else \
        echo "unit tests skipped (UNIT_TESTS=$UNIT_TESTS)"; \
    fi

# ---------------------------------------------------------------------------
# Runtime stage: the binary and its runtime libraries only.
FROM debian:bookworm-slim

LABEL org.opencontainers.image.title="usersvc" \
      org.opencontainers.image.description="HTTP/JSON user service (SQLite, PostgreSQL, MySQL/MariaDB)" \
      org.opencontainers.image.licenses="MIT"

# ca-certificates: for sslmode=verify-full / ssl-mode=VERIFY_IDENTITY.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libmicrohttpd12 libjansson4 libsqlite3-0 libpq5 libmariadb3 libgnutls30 \
        ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# A fixed, numeric non-root user, so that orchestrators can verify
# runAsNonRoot and volumes can be prepared with the right owner (10001).
RUN groupadd --system --gid 10001 usersvc \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin usersvc \
 && install -d -o 10001 -g 10001 -m 0750 /data

COPY --from=build /out/usr/local/bin/usersvc /usr/local/bin/usersvc

USER 10001:10001
WORKDIR /data
# The SQLite database (and its -wal/-shm files) live here by default.
VOLUME /data

# HOST=0.0.0.0 is not loopback: serve refuses to start unless the container
# is given AUTH_JWKS_FILE (a mounted JWK Set), TLS_CLIENT_CA_FILE, or
# ALLOW_UNAUTHENTICATED=1 (README "Security": protected by default).
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATABASE_URL=sqlite:/data/usersvc.db
EXPOSE 8080

# The runtime has no curl or wget, and installing curl would add ~10
# libraries to an image whose point is to carry only what usersvc needs. bash
# (Essential in Debian, so always present) speaks enough HTTP/1.0 over its
# /dev/tcp to ask GET /healthz and read the status line: 200 is healthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-8080} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r -t 2 _ code _ <&3 && [ \"$code\" = 200 ]"]

# usersvc drains and stops gracefully on SIGTERM (and SIGINT); it sigwait()s
# for them, which works as PID 1 too.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/usersvc"]
CMD ["serve"]
