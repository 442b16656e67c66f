#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""faultproxy.py - a fault-injecting TCP proxy for the fault tests.

Listens on 127.0.0.1 (a random port unless --port), forwards every
connection to --target HOST:PORT (loopback only), and changes behaviour at
run time. The tests switch modes by sending one line to the control socket
(a Unix socket, --control PATH), which answers one line ("ok ..." or
"error ..."):

  pass              forward both ways (the default)
  blackhole         keep every socket open, forward nothing, send no FIN and
                    no RST: a network partition as seen from both ends
  latency MS        forward, each chunk held MS milliseconds, each way
  reset             close every open connection with a RST (SO_LINGER 0);
                    the mode stays what it was, so new connections work
  reset_after N     the next N bytes from the server (the start of its next
                    reply, e.g. a commit's answer) reach the client, then
                    both sides of that connection are reset; later
                    connections are untouched (one shot)
  silent            accept new connections but never connect them anywhere
                    nor answer (a server that accepts and hangs the
                    start-up); open connections keep their mode
  status            "ok MODE conns=N accepted=N down=N", down being the bytes
                    forwarded from servers to clients so far (a test measures
                    how long a reply is, to reset just before its last byte)
  quit              exit now

Every wait is bounded: the process exits by itself after --lifetime
seconds (default 300), and when the parent process that started it dies
(checked every second). It writes its port to --port-file once listening.
Only the standard library is used.
"""

import argparse
import os
import selectors
import socket
import struct
import sys
import threading
import time


class Proxy:
    def __init__(self, target, lifetime):
        self.target = target
        self.lock = threading.Lock()
        self.mode = "pass"
        self.latency = 0.0
        self.reset_after = None     # bytes left before the one-shot reset
        self.conns = set()          # (client socket, server socket or None)
        self.accepted = 0
        self.down = 0               # bytes forwarded server -> client
        self.deadline = time.monotonic() + lifetime
        self.parent = os.getppid()
        self.stopping = False

    # ---- control ---------------------------------------------------------

    def command(self, line):
        words = line.split()
        if not words:
            return "error empty command"
        cmd, args = words[0], words[1:]
        with self.lock:
            if cmd in ("pass", "blackhole", "silent"):
                self.mode = cmd
                self.latency = 0.0
                return "ok " + cmd
            if cmd == "latency" and len(args) == 1 and args[0].isdigit():
                self.mode = "pass"
                self.latency = int(args[0]) / 1000.0
                return "ok latency %s" % args[0]
            if cmd == "reset_after" and len(args) == 1 and args[0].isdigit():
                self.reset_after = int(args[0]) if int(args[0]) > 0 else None
                return "ok reset_after %s" % args[0]
            if cmd == "reset":
                conns = list(self.conns)
                self.conns.clear()
            elif cmd == "status":
                return "ok %s conns=%d accepted=%d down=%d" % (
                    self.mode if self.latency == 0 else "latency",
                    len(self.conns), self.accepted, self.down)
            elif cmd == "quit":
                self.stopping = True
                return "ok quit"
            else:
                return "error unknown command"
        for pair in conns:
            for s in pair:
                hard_close(s)
        return "ok reset %d" % len(conns)

    def serve_control(self, path):
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(8)
        srv.settimeout(1.0)
        while not self.stopping:
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            with c:
                c.settimeout(5.0)
                try:
                    data = b""
                    while not data.endswith(b"\n") and len(data) < 256:
                        chunk = c.recv(256)
                        if not chunk:
                            break
                        data += chunk
                    reply = self.command(data.decode("ascii", "replace").strip())
                    c.sendall((reply + "\n").encode())
                except OSError:
                    pass
        srv.close()

    # ---- forwarding --------------------------------------------------------

    def handle(self, client):
        with self.lock:
            mode = self.mode
            self.accepted += 1
        server = None
        if mode != "silent":
            try:
                server = socket.create_connection(self.target, timeout=5.0)
                server.settimeout(None)
            except OSError:
                hard_close(client)
                return
        pair = (client, server)
        with self.lock:
            self.conns.add(pair)
        try:
            if server is None:
                self.hold(pair)
            else:
                self.pump(pair)
        finally:
            with self.lock:
                self.conns.discard(pair)
            for s in pair:
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass

    def alive(self, pair):
        with self.lock:
            return pair in self.conns and not self.stopping

    def hold(self, pair):
        """A silent connection: read and drop nothing, answer nothing."""
        while self.alive(pair) and time.monotonic() < self.deadline:
            time.sleep(0.1)

    def pump(self, pair):
        client, server = pair
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, server)
        sel.register(server, selectors.EVENT_READ, client)
        try:
            while self.alive(pair) and time.monotonic() < self.deadline:
                with self.lock:
                    mode, latency = self.mode, self.latency
                if mode == "blackhole":
                    time.sleep(0.05)        # leave the bytes in the kernel buffers
                    continue
                for key, _ in sel.select(timeout=0.1):
                    src, dst = key.fileobj, key.data
                    try:
                        data = src.recv(65536)
                    except OSError:
                        return
                    if not data:
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        sel.unregister(src)
                        if not sel.get_map():
                            return
                        continue
                    if latency > 0:
                        time.sleep(latency)
                    if src is server and self.cut(pair, data):
                        return
                    try:
                        dst.sendall(data)
                    except OSError:
                        return
                    if src is server:
                        with self.lock:
                            self.down += len(data)
        finally:
            sel.close()

    def cut(self, pair, data):
        """The one-shot reset_after: forward its bytes, then reset both ends."""
        with self.lock:
            if self.reset_after is None:
                return False
            n = self.reset_after
            if len(data) < n:
                self.reset_after = n - len(data)
                return False
            self.reset_after = None
            self.conns.discard(pair)
        client, server = pair
        try:
            client.sendall(data[:n])
            with self.lock:
                self.down += n
        except OSError:
            pass
        for s in pair:
            hard_close(s)
        return True

    def watchdog(self):
        while not self.stopping:
            if time.monotonic() >= self.deadline or os.getppid() != self.parent:
                self.stopping = True
                break
            time.sleep(0.5)


def hard_close(s):
    """Close @s with a RST instead of a FIN."""
    if s is None:
        return
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True, help="HOST:PORT on loopback")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--control", required=True, help="Unix socket path")
    ap.add_argument("--lifetime", type=float, default=300.0)
    a = ap.parse_args()
    host, _, port = a.target.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("faultproxy: the target must be on loopback")
    proxy = Proxy((host, int(port)), a.lifetime)

    lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsn.bind(("127.0.0.1", a.port))
    lsn.listen(256)
    lsn.settimeout(0.5)
    threading.Thread(target=proxy.serve_control, args=(a.control,), daemon=True).start()
    threading.Thread(target=proxy.watchdog, daemon=True).start()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsn.getsockname()[1])
    os.rename(tmp, a.port_file)
    while not proxy.stopping:
        try:
            c, _ = lsn.accept()
        except socket.timeout:
            continue
        except OSError:
            break
        c.setblocking(True)
        threading.Thread(target=proxy.handle, args=(c,), daemon=True).start()
    lsn.close()
    try:
        os.unlink(a.control)
    except OSError:
        pass


if __name__ == "__main__":
    main()
