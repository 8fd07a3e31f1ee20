#!/usr/bin/env python3
"""Small helpers for bench/dynamodb.sh (standard library only).

  benchlib.py freeport                      print a free loopback TCP port
  benchlib.py wait URL TIMEOUT_S            wait until GET URL answers 200
  benchlib.py boot-ms RUNS BIN ARGS...      start BIN ARGS (with {port} and {dir} filled in)
                                            RUNS times; print the median ms from spawn to the
                                            first 200 from /_nimbus/health
  benchlib.py rss-mb PID                    print VmRSS of PID in MB
  benchlib.py table RESULTS_FILE            print the comparison table
  benchlib.py zip OUT SRC=NAME:MODE...      write a zip (a Lambda package) of SRC files,
                                            each stored as NAME with octal MODE
  benchlib.py spawn-ms RUNS CMD ARGS...     median ms from spawning CMD to its exit
  benchlib.py lambda-table RESULTS          print bench/lambda.sh's table
  benchlib.py find-python                   print `python3.X PATH`: the interpreter nimbus
                                            runs python3.X on (this python's minor first)
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
import zipfile


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
    peer, disk_peer, ceiling = "dynalite", "dynalite-disk", "bare-hyper"

    def sorted_ratios(mine: dict, base: dict) -> list:
        return sorted(r["rps"] / base[k]["rps"] for k, r in mine.items()
                      if k in base and base[k]["rps"])

    print(f"{'server':<14}{'workload':<10}{'conns':>6}{'rounds':>7}{'req/s':>9}{'p50 ms':>8}"
          f"{'p99 ms':>8}{'errors':>7}{'x dynalite':>12}{'range':>15}{'x disk':>8}"
          f"{'of ceiling':>12}")
    for s in servers:
        for w in ("GetItem", "PutItem"):
            mine = runs.get((s, w))
            if not mine:
                continue
            ordered = sorted(mine.values(), key=lambda r: r["rps"])
            med = ordered[len(ordered) // 2]
            ratios = sorted_ratios(mine, runs.get((peer, w), {}))
            ratio = f"{ratios[len(ratios) // 2]:.2f}x" if ratios else "-"
            span = f"{ratios[0]:.2f}-{ratios[-1]:.2f}x" if ratios else "-"
            on_disk = sorted_ratios(mine, runs.get((disk_peer, w), {}))
            disk = f"{on_disk[len(on_disk) // 2]:.2f}x" if on_disk else "-"
            shares = sorted_ratios(mine, runs.get((ceiling, w), {}))
            share = f"{100 * shares[len(shares) // 2]:.0f}%" if shares else "-"
            errs = sum(sum(r.get("errors", {}).values()) for r in mine.values())
            print(f"{s:<14}{w:<10}{med['connections']:>6}{len(mine):>7}{med['rps']:>9.0f}"
                  f"{med['p50_ms']:>8.2f}{med['p99_ms']:>8.2f}{errs:>7}{ratio:>12}{span:>15}"
                  f"{disk:>8}{share:>12}")


def make_zip(out: str, entries: list[str]) -> None:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for entry in entries:
            src, _, rest = entry.partition("=")
            name, _, mode = rest.partition(":")
            info = zipfile.ZipInfo(name)
            # A regular file with its permission bits, as `zip` records them (the Lambda
            # runtime executes /var/task/bootstrap).
            info.external_attr = (0o100000 | int(mode or "644", 8)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(src, "rb") as f:
                z.writestr(info, f.read())


def spawn_ms(runs: int, argv: list[str]) -> float:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def lambda_table(path: str) -> None:
    """Medians over rounds; ratios are medians of per-round ratios nimbus/rustack; the
    Python line is the median of per-round differences (cold start - interpreter)."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    by: dict = {}
    for r in rows:
        by.setdefault((r["server"], r["kind"]), {})[r["round"]] = r

    def med(values):
        values = sorted(values)
        return values[len(values) // 2] if values else None

    def ratio(kind, field, invert=False):
        mine, peer = by.get(("nimbus", kind), {}), by.get(("rustack", kind), {})
        rs = [(peer[k][field] / m[field]) if invert else (m[field] / peer[k][field])
              for k, m in mine.items() if k in peer and m[field] and peer[k][field]]
        return f"{med(rs):.2f}x" if rs else "-"

    def errors(kind, server):
        return sum(sum(r.get("errors", {}).values()) for r in by.get((server, kind), {}).values())

    print(f"{'':<34}{'nimbus':>12}{'rustack':>12}{'nimbus speed / rustack':>24}"
          f"{'nimbus rounds':>22}")
    lines = [
        ("cold start p50, provided (ms)", "cold", "cold_p50_ms", True),
        ("warm Invoke p50, 1 conn (ms)", "warm1", "p50_ms", True),
        ("warm Invoke, 1 conn (req/s)", "warm1", "rps", False),
        ("warm Invoke, 10 conns (req/s)", "warm10", "rps", False),
        ("warm Invoke p50, 10 conns (ms)", "warm10", "p50_ms", True),
    ]
    for label, kind, field, lower_is_better in lines:
        cells = []
        for server in ("nimbus", "rustack"):
            v = med([r[field] for r in by.get((server, kind), {}).values()])
            cells.append("-" if v is None else (f"{v:.3f}" if "ms" in field else f"{v:.0f}"))
        mine = sorted(r[field] for r in by.get(("nimbus", kind), {}).values())
        fmt = (lambda v: f"{v:.3f}") if "ms" in field else (lambda v: f"{v:.0f}")
        span = f"{fmt(mine[0])}-{fmt(mine[-1])}" if mine else "-"
        # > 1: nimbus is faster (fewer ms, or more req/s).
        print(f"{label:<34}{cells[0]:>12}{cells[1]:>12}"
              f"{ratio(kind, field, invert=lower_is_better):>24}{span:>22}")
    print(f"{'errors at 10 conns (all rounds)':<34}{errors('warm10', 'nimbus'):>12}"
          f"{errors('warm10', 'rustack'):>12}")
    cold, start = by.get(("nimbus", "pycold"), {}), by.get(("nimbus", "pystart"), {})
    pairs = [(cold[k]["cold_p50_ms"], start[k]["ms"]) for k in cold if k in start]
    if pairs:
        diffs = [c - s for c, s in pairs]
        print(f"Python cold start p50 (nimbus): {med([c for c, _ in pairs]):.1f} ms; the "
              f"interpreter's own start-up: {med([s for _, s in pairs]):.1f} ms; difference "
              f"(median of rounds) {med(diffs):+.1f} ms, rounds {min(diffs):+.1f} to "
              f"{max(diffs):+.1f} ms")


def find_python() -> str:
    """nimbus's lookup (crates/functions/src/runtimes.rs): PATH and the standard bin
    directories (version-manager shims skipped), then pyenv prefixes, newest first. The
    caller passes its PATH as BENCH_LOOKUP_PATH: a pyenv shim that started this script
    put its own version's directory first in ours."""
    path = os.environ.get("BENCH_LOOKUP_PATH", os.environ.get("PATH", ""))
    dirs = path.split(os.pathsep) + ["/usr/local/bin", "/usr/bin", "/bin"]
    roots = [os.path.join(os.environ["PYENV_ROOT"], "versions")] if "PYENV_ROOT" in os.environ else []
    roots += [os.path.expanduser("~/.pyenv/versions"), "/root/.pyenv/versions"]
    for minor in [sys.version_info.minor] + list(range(14, 8, -1)):
        name = f"python3.{minor}"
        for d in dirs:
            path = os.path.join(d, name)
            if "shims" not in path.split(os.sep) and os.path.isfile(path):
                return f"{name} {os.path.realpath(path)}"
        for root in roots:
            try:
                versions = sorted(v for v in os.listdir(root) if v.startswith(f"3.{minor}."))
            except OSError:
                continue
            for v in reversed(versions):
                path = os.path.join(root, v, "bin", name)
                if os.path.isfile(path):
                    return f"{name} {os.path.realpath(path)}"
    return ""


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
    elif cmd == "find-python":
        print(find_python())
    elif cmd == "zip":
        make_zip(args[0], args[1:])
    elif cmd == "spawn-ms":
        print(f"{spawn_ms(int(args[0]), args[1:]):.1f}")
    elif cmd == "lambda-table":
        lambda_table(args[0])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
