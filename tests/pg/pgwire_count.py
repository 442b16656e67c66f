#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A TCP proxy in front of PostgreSQL that logs the frontend protocol.

Usage: pgwire_count.py UPSTREAM_HOST UPSTREAM_PORT PORT_FILE LOG_FILE

Listens on 127.0.0.1 (a free port, written to PORT_FILE once listening),
forwards every connection to the upstream server unchanged, and appends one
line per interesting client message to LOG_FILE:

    <conn> P <statement name>     Parse (an unnamed statement is "-")
    <conn> B <statement name>     Bind: one execution of that statement
    <conn> Q                      simple Query (BEGIN, COMMIT, ...)

so a test can see how often each connection prepares and runs statements,
the one thing the server does not expose across sessions. Clients must not
use TLS or GSS encryption (sslmode=disable&gssencmode=disable): the stream
has to be readable. Runs until killed.
"""
import os
import socket
import struct
import sys
import threading

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104

log_lock = threading.Lock()


def log(out, line):
    with log_lock:
        out.write(line + "\n")
        out.flush()


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


def cstring(payload, off):
    end = payload.index(b"\0", off)
    return payload[off:end].decode("utf-8", "replace"), end + 1


def client_to_server(conn_id, client, server, out):
    try:
        # Startup phase: untyped messages until the StartupMessage itself.
        while True:
            head = recv_exact(client, 4)
            (length,) = struct.unpack("!I", head)
            body = recv_exact(client, length - 4)
            server.sendall(head + body)
            code = struct.unpack("!I", body[:4])[0] if len(body) >= 4 else 0
            if code not in (SSL_REQUEST, GSSENC_REQUEST):
                break
        while True:
            kind = recv_exact(client, 1)
            head = recv_exact(client, 4)
            (length,) = struct.unpack("!I", head)
            payload = recv_exact(client, length - 4)
            if kind == b"P":
                name, _ = cstring(payload, 0)
                log(out, "%d P %s" % (conn_id, name or "-"))
            elif kind == b"B":
                _, off = cstring(payload, 0)          # portal
                name, _ = cstring(payload, off)
                log(out, "%d B %s" % (conn_id, name or "-"))
            elif kind == b"Q":
                log(out, "%d Q" % conn_id)
            server.sendall(kind + head + payload)
    except (EOFError, OSError, ValueError):
        pass
    finally:
        for s in (client, server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def server_to_client(client, server):
    try:
        while True:
            data = server.recv(65536)
            if not data:
                break
            client.sendall(data)
    except OSError:
        pass
    finally:
        for s in (client, server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    host, port, port_file, log_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    out = open(log_file, "a")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % listener.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)
    conn_id = 0
    while True:
        client, _ = listener.accept()
        conn_id += 1
        try:
            server = socket.create_connection((host, port), timeout=10)
            server.settimeout(None)
        except OSError:
            client.close()
            continue
        threading.Thread(target=client_to_server, args=(conn_id, client, server, out),
                         daemon=True).start()
        threading.Thread(target=server_to_client, args=(client, server), daemon=True).start()


if __name__ == "__main__":
    main()
