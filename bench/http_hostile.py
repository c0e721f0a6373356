#!/usr/bin/env python3
"""Hostile clients for the tiles HTTP port, and a normal client to time.

  http_hostile.py slowloris --port P [--conns 4200] [--source 127.0.0.1]
      [--interval 3] [--duration 30] [--probe-source 127.0.0.2] [--probes 100]
    Holds --conns connections from --source, each sending one more header
    line every --interval seconds and never finishing its head; connections
    the server closes are reopened on the next round. Meanwhile a normal
    client from --probe-source times --probes GET /checkpoint (a new
    connection each) and prints the median and max latency.

  http_hostile.py stalled --port P --paths FILE [--conns 400] [--hold 20]
      [--sources 10] --pid SERVER_PID
    Opens --conns connections from --sources loopback addresses
    (127.0.1.1 ..) with a 4 KiB receive buffer, each asking for
    one path from FILE (one per line), reads only the status line, and
    never reads the body. Prints the statuses and the server's RSS (VmRSS,
    VmHWM) every second while holding.

Raise `ulimit -n` above --conns first. Loopback only; for measuring your
own server (docs/operations.md, "Tiles HTTP port").
"""
import argparse
import collections
import os
import selectors
import socket
import statistics
import sys
import threading
import time


def slowloris(args):
    stop = time.monotonic() + args.duration
    socks = [None] * args.conns
    opened = [0]
    refused = [0]
    rounds = [0]

    def reopen(i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((args.source, 0))
        try:
            s.connect((args.host, args.port))
        except BlockingIOError:
            pass
        except OSError:
            s.close()
            return None
        opened[0] += 1
        return s

    def attack():
        line = 0
        while time.monotonic() < stop:
            t0 = time.monotonic()
            for i in range(args.conns):
                s = socks[i]
                if s is None:
                    socks[i] = reopen(i)
                    if socks[i] is not None:
                        try:
                            socks[i].send(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\n")
                        except OSError:
                            pass
                    continue
                try:
                    s.send(b"X-%d: %d\r\n" % (line, i))
                except OSError:
                    refused[0] += 1
                    s.close()
                    socks[i] = None
            line += 1
            rounds[0] += 1
            time.sleep(max(0, args.interval - (time.monotonic() - t0)))

    t = threading.Thread(target=attack, daemon=True)
    t.start()
    time.sleep(min(5, args.duration / 3))  # let the attack build up
    lat = []
    failures = 0
    for _ in range(args.probes):
        t0 = time.monotonic()
        try:
            c = socket.create_connection((args.host, args.port), timeout=10,
                                         source_address=(args.probe_source, 0))
            c.sendall(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
            c.close()
            if not data.startswith(b"HTTP/1.1 200"):
                failures += 1
            lat.append(time.monotonic() - t0)
        except OSError:
            failures += 1
            lat.append(time.monotonic() - t0)
        if time.monotonic() > stop:
            break
        time.sleep(0.05)
    t.join()
    held = sum(1 for s in socks if s is not None)
    print(f"slowloris: {args.conns} connections from {args.source}, one header line "
          f"per {args.interval}s; {rounds[0]} rounds, {opened[0]} opened, {refused[0]} seen closed by the server, "
          f"{held} held by the tool at the end")
    ms = [x * 1000 for x in lat]
    print(f"/checkpoint from {args.probe_source}: {len(ms)} requests, {failures} failed; "
          f"median {statistics.median(ms):.2f} ms, max {max(ms):.2f} ms")


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) // 1024
    return out


def stalled(args):
    paths = [p.strip() for p in open(args.paths) if p.strip()]
    print(f"before: RSS {rss(args.pid)} MiB")
    socks = []
    for i in range(args.conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.bind((f"127.0.1.{1 + i % args.sources}", 0))
        s.connect((args.host, args.port))
        s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % paths[i % len(paths)].encode())
        socks.append(s)
    statuses = collections.Counter()
    for s in socks:
        s.settimeout(10)
        try:
            first = s.recv(12)  # "HTTP/1.1 200": the status, not the body
            statuses[first[9:12].decode() or "closed"] += 1
        except OSError as e:
            statuses[type(e).__name__] += 1
    print(f"{args.conns} never-reading clients, statuses: {dict(statuses)}")
    peak = 0
    for t in range(args.hold):
        r = rss(args.pid)
        peak = max(peak, r["VmRSS"])
        print(f"t={t}s RSS {r['VmRSS']} MiB (high-water {r['VmHWM']} MiB)")
        time.sleep(1)
    print(f"peak RSS while holding: {peak} MiB")
    for s in socks:
        s.close()


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("slowloris")
    a.add_argument("--host", default="127.0.0.1")
    a.add_argument("--port", type=int, required=True)
    a.add_argument("--conns", type=int, default=4200)
    a.add_argument("--source", default="127.0.0.1")
    a.add_argument("--interval", type=float, default=3)
    a.add_argument("--duration", type=float, default=30)
    a.add_argument("--probe-source", default="127.0.0.2")
    a.add_argument("--probes", type=int, default=100)
    b = sub.add_parser("stalled")
    b.add_argument("--host", default="127.0.0.1")
    b.add_argument("--port", type=int, required=True)
    b.add_argument("--paths", required=True)
    b.add_argument("--conns", type=int, default=400)
    b.add_argument("--hold", type=int, default=20)
    b.add_argument("--pid", type=int, required=True)
    b.add_argument("--sources", type=int, default=10,
                   help="spread over 127.0.1.1 .. 127.0.1.N (the per-address limit)")
    args = p.parse_args()
    {"slowloris": slowloris, "stalled": stalled}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
