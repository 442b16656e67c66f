#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Raw-socket HTTP clients for the fault-injection suite (tests/fault/).

Standard library only. Every socket operation has a timeout, every loop is
bounded, and all traffic goes to 127.0.0.1.

  rawhttp.py send PORT [--wait S] [--responses N] [--half-close] < REQUEST
      Writes the request bytes from stdin, as they are, on one fresh
      connection (optionally shutting down the write side afterwards), then
      reads until the server closes the connection, or N complete responses
      (framed by Content-Length) have arrived and nothing more follows within
      0.2 s, or S seconds (default 3) have passed. The bytes received go to
      stdout. Exit status: 0 the server closed the connection (EOF or reset),
      3 it was still open at the end, 2 no connection could be made.

  rawhttp.py slowloris PORT --silent N --dribble M --seconds T --report FILE
                        [--ready FILE] [--stop FILE]...
      Opens N "silent" connections (the start of a request, then nothing)
      and M "dribbling" ones (one more header byte every 1.5 s), writes the
      number connected to the --ready file, and watches them for T seconds
      (at most 120) or until one of the --stop files exists. The JSON report
      says how many connected and how many of each kind the server closed,
      and when.

  rawhttp.py extra PORT --count K --wait S --report FILE
      Opens K connections at once, sends a complete GET /healthz on each
      and waits up to S seconds for every one. The JSON report counts the
      connections refused (connect failed), closed without an answer,
      answered (by status), and left hanging (none of these within S).
"""
import argparse
import json
import os
import select
import socket
import sys
import time

HOST = "127.0.0.1"
MAX_READ = 16 * 1024 * 1024


def connect(port, timeout=3.0):
    s = socket.create_connection((HOST, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def complete_responses(buf):
    """How many complete responses (headers + Content-Length body) are in buf."""
    n, pos = 0, 0
    while True:
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            return n
        length = 0
        for line in buf[pos:end].split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                try:
                    length = int(value.strip())
                except ValueError:
                    return n
        if len(buf) < end + 4 + length:
            return n
        n += 1
        pos = end + 4 + length


def cmd_send(args):
    data = sys.stdin.buffer.read()
    try:
        s = connect(args.port)
    except OSError as e:
        sys.stderr.write("connect: %s\n" % e)
        return 2
    out = bytearray()
    closed = False
    try:
        try:
            s.sendall(data)
        except OSError:
            pass    # the server may close before it has read everything
        if args.half_close:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        deadline = time.monotonic() + args.wait
        while len(out) < MAX_READ:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if args.responses and complete_responses(out) >= args.responses:
                left = min(left, 0.2)
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True   # reset by the server
                break
            if not chunk:
                closed = True
                break
            out += chunk
    finally:
        s.close()
    sys.stdout.buffer.write(bytes(out))
    sys.stdout.flush()
    return 0 if closed else 3


def peer_closed(s):
    """True when the server has closed or answered (EOF, reset, data); never blocks."""
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return False
        s.recv(4096, socket.MSG_PEEK)
        return True
    except OSError:
        return True


def cmd_slowloris(args):
    start = time.monotonic()
    report = {"silent": args.silent, "dribble": args.dribble, "connected": 0,
              "connect_failed": 0, "silent_closed": 0, "dribble_closed": 0,
              "silent_close_s": None, "dribble_close_s": None}
    conns = []   # [socket, kind, opened_at, closed_at]
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    for i in range(args.silent + args.dribble):
        kind = "silent" if i < args.silent else "dribble"
        try:
            s = connect(args.port)
            s.sendall(head)
            s.setblocking(False)
        except OSError:
            report["connect_failed"] += 1
            continue
        conns.append([s, kind, time.monotonic(), None])
        report["connected"] += 1
    report["open_s"] = round(time.monotonic() - start, 2)
    if args.ready:
        with open(args.ready + ".tmp", "w") as f:
            f.write("%d\n" % report["connected"])
        os.rename(args.ready + ".tmp", args.ready)
    last_dribble = time.monotonic()
    end = time.monotonic() + min(args.seconds, 120.0)
    while time.monotonic() < end and not any(os.path.exists(f) for f in args.stop):
        now = time.monotonic()
        dribble_now = now - last_dribble >= 1.5
        if dribble_now:
            last_dribble = now
        for c in conns:
            if c[3] is not None:
                continue
            if peer_closed(c[0]):
                c[3] = now
            elif dribble_now and c[1] == "dribble":
                try:
                    c[0].send(b"a")
                except BlockingIOError:
                    pass
                except OSError:
                    c[3] = now
        time.sleep(0.2)
    times = {"silent": [], "dribble": []}
    for s, kind, opened, closed in conns:
        if closed is not None:
            report[kind + "_closed"] += 1
            times[kind].append(closed - opened)
        s.close()
    for kind, v in times.items():
        if v:
            report[kind + "_close_s"] = {"min": round(min(v), 1), "max": round(max(v), 1)}
    report["ran_s"] = round(time.monotonic() - start, 2)
    with open(args.report, "w") as f:
        json.dump(report, f)
    return 0


def cmd_extra(args):
    report = {"count": args.count, "refused": 0, "closed_without_answer": 0,
              "answered": 0, "answered_status": {}, "hanging": 0, "slowest_s": 0.0}
    t0 = time.monotonic()
    deadline = t0 + args.wait
    pending = {}    # socket -> bytes received
    for _ in range(args.count):
        try:
            s = connect(args.port, timeout=args.wait)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            s.setblocking(False)
            pending[s] = bytearray()
        except OSError:
            report["refused"] += 1
    done = []
    while pending and time.monotonic() < deadline:
        r, _, _ = select.select(list(pending), [], [], max(0.0, deadline - time.monotonic()))
        for s in r:
            try:
                chunk = s.recv(4096)
            except OSError:
                chunk = b""
            if chunk:
                pending[s] += chunk
                continue
            done.append((pending.pop(s), time.monotonic() - t0))
            s.close()
    for got, took in done:
        if got.startswith(b"HTTP/"):
            status = got.split(b" ", 2)[1].decode("ascii", "replace")
            report["answered"] += 1
            report["answered_status"][status] = report["answered_status"].get(status, 0) + 1
        else:
            report["closed_without_answer"] += 1
        report["slowest_s"] = max(report["slowest_s"], round(took, 2))
    for s, got in pending.items():
        if got.startswith(b"HTTP/"):
            report["answered"] += 1     # answered, kept open (keep-alive)
        else:
            report["hanging"] += 1
            report["slowest_s"] = round(args.wait, 2)
        s.close()
    with open(args.report, "w") as f:
        json.dump(report, f)
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("send")
    a.add_argument("port", type=int)
    a.add_argument("--wait", type=float, default=3.0)
    a.add_argument("--responses", type=int, default=0)
    a.add_argument("--half-close", action="store_true")
    a = sub.add_parser("slowloris")
    a.add_argument("port", type=int)
    a.add_argument("--silent", type=int, default=100)
    a.add_argument("--dribble", type=int, default=200)
    a.add_argument("--seconds", type=float, default=15.0)
    a.add_argument("--report", required=True)
    a.add_argument("--ready", default="")
    a.add_argument("--stop", action="append", default=[])
    a = sub.add_parser("extra")
    a.add_argument("port", type=int)
    a.add_argument("--count", type=int, default=10)
    a.add_argument("--wait", type=float, default=3.0)
    a.add_argument("--report", required=True)
    args = p.parse_args()
    if args.cmd == "send":
        return cmd_send(args)
    if args.cmd == "slowloris":
        return cmd_slowloris(args)
    return cmd_extra(args)


if __name__ == "__main__":
    sys.exit(main())
