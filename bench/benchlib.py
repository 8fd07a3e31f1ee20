#!/usr/bin/env python3
"""Small helpers for bench/dynamodb.sh (standard library only).

  benchlib.py freeport                      print a free loopback TCP port
  benchlib.py wait URL TIMEOUT_S            wait until GET URL answers 200
  benchlib.py boot-ms RUNS BIN ARGS...      start BIN ARGS (with {port} and {dir} filled in)
                                            RUNS times; print the median ms from spawn to the
                                            first 200 from /_nimbus/health
  benchlib.py rss-mb PID                    print VmRSS of PID in MB
  benchlib.py table RESULTS_FILE            print the comparison table
"""

import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def freeport() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_status(port: int, path: str, timeout_s: float = 0.5) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def wait(url: str, timeout_s: float) -> bool:
    rest = url.replace("http://", "")
    hostport, _, path = rest.partition("/")
    port = int(hostport.split(":")[1])
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if get_status(port, "/" + path) == 200:
                return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def boot_ms(runs: int, argv: list[str]) -> float:
    samples = []
    for _ in range(runs):
        port = freeport()
        data = tempfile.mkdtemp(prefix="nimbus-boot-")
        args = [a.replace("{port}", str(port)).replace("{dir}", data) for a in argv]
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ok = False
            while time.perf_counter() - t0 < 10:
                try:
                    if get_status(port, "/_nimbus/health", timeout_s=1) == 200:
                        ok = True
                        break
                except OSError:
                    pass
                if proc.poll() is not None:
                    break
                time.sleep(0.0005)
            if not ok:
                raise SystemExit(f"server did not become healthy: {' '.join(args)}")
            samples.append((time.perf_counter() - t0) * 1000)
        finally:
            proc.kill()
            proc.wait()
            shutil.rmtree(data, ignore_errors=True)
    return statistics.median(samples)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for {pid}")


def table(path: str) -> None:
    """Median over rounds; the ratio is the median of per-round ratios (each round runs
    every server back to back, so pairing within a round cancels slow drifts of a shared
    machine), with its range."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    runs: dict = {}
    servers = []
    for r in rows:
        if r["server"] not in servers:
            servers.append(r["server"])
        runs.setdefault((r["server"], r["workload"]), {})[r.get("round", 1)] = r
    peer = "dynalite"
    print(f"{'server':<14}{'workload':<10}{'conns':>6}{'rounds':>7}{'req/s':>9}{'p50 ms':>8}"
          f"{'p99 ms':>8}{'errors':>7}{'x dynalite':>12}{'range':>15}")
    for s in servers:
        for w in ("GetItem", "PutItem"):
            mine = runs.get((s, w))
            if not mine:
                continue
            ordered = sorted(mine.values(), key=lambda r: r["rps"])
            med = ordered[len(ordered) // 2]
            base = runs.get((peer, w), {})
            ratios = sorted(r["rps"] / base[k]["rps"] for k, r in mine.items()
                            if k in base and base[k]["rps"])
            ratio = f"{ratios[len(ratios) // 2]:.2f}x" if ratios else "-"
            span = f"{ratios[0]:.2f}-{ratios[-1]:.2f}x" if ratios else "-"
            errs = sum(sum(r.get("errors", {}).values()) for r in mine.values())
            print(f"{s:<14}{w:<10}{med['connections']:>6}{len(mine):>7}{med['rps']:>9.0f}"
                  f"{med['p50_ms']:>8.2f}{med['p99_ms']:>8.2f}{errs:>7}{ratio:>12}{span:>15}")


def main() -> None:
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "freeport":
        print(freeport())
    elif cmd == "wait":
        sys.exit(0 if wait(args[0], float(args[1])) else 1)
    elif cmd == "boot-ms":
        print(f"{boot_ms(int(args[0]), args[1:]):.1f}")
    elif cmd == "rss-mb":
        print(f"{rss_mb(int(args[0])):.1f}")
    elif cmd == "table":
        table(args[0])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
