#!/usr/bin/env bash
# S3 benchmark: nimbus side by side with s3rver (npm) and moto (PyPI, `moto_server`) on this
# machine, and nimbus's large-object throughput against the disk itself. nimbus runs twice:
# in its durable default, and with `--sync none`, the peers' own durability (neither ever
# fsyncs).
#
#  1. 4 KiB PutObject and GetObject ops/s, driven by nimbus-loadgen with correctly signed
#     requests (SigV4, body hash signed, path-style `/bucket/key`, a fixed key space that is
#     preloaded before the GETs). Every server runs once per round (BENCH_ROUNDS); the table
#     shows medians and the median of the per-round ratios nimbus/s3rver and nimbus/moto,
#     because a shared VM drifts between runs.
#  2. 1 GiB GetObject throughput (curl on a presigned URL, to /dev/null) as a percentage of
#     `cat file > /dev/null` of the same bytes, both from a warm page cache; and 1 GiB
#     PutObject (curl -T of a cached file, nimbus's default durable mode: fsync before the
#     object becomes visible) as a percentage of `dd if=/dev/zero bs=1M count=1024
#     conv=fsync`. Medians of BENCH_BIG_ROUNDS. Two references say what bounds each:
#     the same file sent by a sendfile(2) HTTP server to the same curl (what loopback TCP
#     carries at best on this machine), and `md5sum` of the file (a PutObject's ETag is
#     the body's MD5, a serial pass over every byte).
#
# Usage: bench/s3.sh                (about 12 minutes; a benchmark, not a test)
# Knobs: BENCH_SECONDS (measured seconds per run, default 10), BENCH_WARMUP (2s),
#        BENCH_ROUNDS (3; 0 runs only part 2), BENCH_KEYS (preloaded keys, default 1000), OBJECT_SIZE (4096),
#        GET_CONNS (64), PUT_CONNS (64), LOADGEN_THREADS (1), LOADGEN_CLIENT (replay|hyper),
#        BENCH_ONLY (subset of: nimbus sync-none s3rver moto), BENCH_BIG (1 to run part 2, default 1),
#        BENCH_BIG_MB (1024), BENCH_BIG_ROUNDS (3), BENCH_PROFILE (release; `dev` only to
#        check the script itself quickly), BENCH_BUILD (0: use the binaries already built),
#        BENCH_PEERS_DIR (where s3rver and moto are
#        installed; default $CARGO_TARGET_DIR/bench-peers).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-2s}
KEYS=${BENCH_KEYS:-1000}
OBJECT_SIZE=${OBJECT_SIZE:-4096}
GET_CONNS=${GET_CONNS:-64}
PUT_CONNS=${PUT_CONNS:-64}
LG_THREADS=${LOADGEN_THREADS:-1}
LG_CLIENT=${LOADGEN_CLIENT:-replay}
ONLY=${BENCH_ONLY:-"nimbus sync-none s3rver moto"}
BIG=${BENCH_BIG:-1}
BIG_MB=${BENCH_BIG_MB:-1024}
BIG_ROUNDS=${BENCH_BIG_ROUNDS:-3}
PROFILE=${BENCH_PROFILE:-release}
PEERS=${BENCH_PEERS_DIR:-$TARGET_DIR/bench-peers}
# Pinned peers.
S3RVER_VERSION=3.7.1
MOTO_VERSION=5.2.5
BUCKET=bench

WORK=$(mktemp -d /tmp/nimbus-bench-s3.XXXXXX)
RESULTS=$WORK/results.jsonl
PIDS=()

cleanup() {
    # A process still running here exits by the signal, and `wait` reports that (143): it
    # must not become the script's exit status under `set -e`.
    for pid in "${PIDS[@]:-}"; do
        if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null || true
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Small helpers (standard library only).
HELPER=$WORK/s3bench.py
cat >"$HELPER" <<'PY'
import json, socket, statistics, sys, time

def freeport():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def waitport(port, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.02)
    return False

def table(path):
    rows = [json.loads(l) for l in open(path) if l.strip()]
    runs, servers = {}, []
    for r in rows:
        if r["server"] not in servers:
            servers.append(r["server"])
        runs.setdefault((r["server"], r["workload"]), {})[r["round"]] = r
    peers = [p for p in ("s3rver", "moto") if p in servers]
    head = f"{'server':<10}{'workload':<11}{'conns':>6}{'rounds':>7}{'ops/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}"
    for p in peers:
        head += f"{'x ' + p:>11}{'range':>14}"
    print(head)
    for s in servers:
        for w in ("PutObject", "GetObject"):
            mine = runs.get((s, w))
            if not mine:
                continue
            ordered = sorted(mine.values(), key=lambda r: r["rps"])
            med = ordered[len(ordered) // 2]
            errs = sum(sum(r.get("errors", {}).values()) for r in mine.values())
            line = (f"{s:<10}{w:<11}{med['connections']:>6}{len(mine):>7}{med['rps']:>9.0f}"
                    f"{med['p50_ms']:>8.2f}{med['p99_ms']:>8.2f}{errs:>7}")
            for p in peers:
                base = runs.get((p, w), {})
                ratios = sorted(r["rps"] / base[k]["rps"] for k, r in mine.items()
                                if k in base and base[k]["rps"])
                if ratios:
                    line += f"{ratios[len(ratios) // 2]:>10.2f}x{ratios[0]:>7.2f}-{ratios[-1]:.2f}x"
                else:
                    line += f"{'-':>11}{'-':>14}"
            print(line)

def median(values):
    return statistics.median(float(v) for v in values)

def sendfile_server(path, port):
    """The loopback ceiling for a download: an HTTP server that hands the file to the
    kernel with sendfile (no copy through user space at all), one request at a time."""
    import os
    size = os.path.getsize(path)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    while True:
        conn, _ = srv.accept()
        # A probe (waitport) connects and hangs up; a client may go away mid-body.
        try:
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    got = conn.recv(65536)
                    if not got:
                        break
                    head += got
                if b"\r\n\r\n" not in head:
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % size)
                with open(path, "rb") as f:
                    conn.sendfile(f)
        except OSError:
            pass

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "freeport":
    print(freeport())
elif cmd == "waitport":
    sys.exit(0 if waitport(int(args[0]), float(args[1])) else 1)
elif cmd == "table":
    table(args[0])
elif cmd == "median":
    print(f"{median(args):.1f}")
elif cmd == "sendfile-server":
    sendfile_server(args[0], int(args[1]))
elif cmd == "pct":
    print(f"{100.0 * float(args[0]) / float(args[1]):.0f}%")
PY
LIB="python3 $HELPER"

if [ "${BENCH_BUILD:-1}" = 1 ]; then
    echo "== building nimbus and nimbus-loadgen ($PROFILE)"
    cargo build --profile "$PROFILE" --locked -p nimbus -p nimbus-loadgen
fi
OUT_DIR=$TARGET_DIR/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
NIMBUS=$OUT_DIR/nimbus
LOADGEN=$OUT_DIR/nimbus-loadgen

echo "== installing the peers (pinned) into $PEERS"
mkdir -p "$PEERS"
if [[ " $ONLY " == *" s3rver "* ]] && [ ! -x "$PEERS/s3rver/node_modules/.bin/s3rver" ]; then
    npm install --prefix "$PEERS/s3rver" --no-audit --no-fund --loglevel=error "s3rver@$S3RVER_VERSION"
fi
if [[ " $ONLY " == *" moto "* ]] && [ ! -x "$PEERS/moto/bin/moto_server" ]; then
    python3 -m venv "$PEERS/moto"
    "$PEERS/moto/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
S3RVER=$PEERS/s3rver/node_modules/.bin/s3rver
MOTO=$PEERS/moto/bin/moto_server

start_server() { # start_server NAME -> sets PORT, SERVER_PID, KEY_ARGS
    local name=$1
    PORT=$($LIB freeport)
    local log=$WORK/$name.log
    rm -rf "$WORK/data-$name" # every round starts from an empty store
    mkdir -p "$WORK/data-$name"
    KEY_ARGS=(--access-key test --secret-key test)
    case $name in
        nimbus) "$NIMBUS" up --bind "127.0.0.1:$PORT" --data-dir "$WORK/data-$name" >"$log" 2>&1 & ;;
        # Durability relaxed to the peers' level: neither s3rver nor moto ever fsyncs.
        sync-none) "$NIMBUS" up --bind "127.0.0.1:$PORT" --data-dir "$WORK/data-$name" --sync none >"$log" 2>&1 & ;;
        # -s: no per-request logging (it would be most of s3rver's work).
        s3rver) "$S3RVER" -d "$WORK/data-$name" -a 127.0.0.1 -p "$PORT" -s >"$log" 2>&1 &
                KEY_ARGS=(--access-key S3RVER --secret-key S3RVER) ;;
        moto)   "$MOTO" -H 127.0.0.1 -p "$PORT" >"$log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    if ! $LIB waitport "$PORT" 30; then
        echo "$name did not come up:"; cat "$log"; exit 1
    fi
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

run_load() { # run_load SERVER WORKLOAD CONNS [extra loadgen args...]
    local server=$1 workload=$2 conns=$3; shift 3
    local out
    out=$("$LOADGEN" --endpoint "http://127.0.0.1:$PORT" "${KEY_ARGS[@]}" --workload "$workload" \
        --bucket "$BUCKET" --key-space "$KEYS" --object-size "$OBJECT_SIZE" --connections "$conns" \
        --duration "${SECONDS_PER_RUN}s" --warmup "$WARMUP" --threads "$LG_THREADS" \
        --client "$LG_CLIENT" --json "$@")
    echo "$out" | grep -v '^RESULT ' | sed "s/^/    /"
    echo "$out" | grep '^RESULT ' | sed 's/^RESULT //' |
        python3 -c "import json,sys; d=json.load(sys.stdin); d['server']='$server'; \
d['workload']={'s3-get':'GetObject','s3-put':'PutObject'}['$workload']; d['round']=$ROUND; print(json.dumps(d))" \
        >>"$RESULTS"
}

for ROUND in $(seq 1 "$ROUNDS"); do
    for server in $ONLY; do
        echo
        echo "== round $ROUND/$ROUNDS: $server"
        start_server "$server"
        echo "  GetObject $OBJECT_SIZE B, $GET_CONNS connections (bucket created and $KEYS objects preloaded first)"
        run_load "$server" s3-get "$GET_CONNS" --create-bucket --preload
        echo "  PutObject $OBJECT_SIZE B, $PUT_CONNS connections"
        run_load "$server" s3-put "$PUT_CONNS"
        stop_server
    done
done

if [ "$ROUNDS" -gt 0 ]; then
    echo
    echo "== results: 4 KiB objects ($(nproc) cores, $ROUNDS rounds, ${SECONDS_PER_RUN}s per run after ${WARMUP} warmup, loadgen threads $LG_THREADS, client $LG_CLIENT)"
    $LIB table "$RESULTS"
fi

if [ "$BIG" = 1 ]; then
    echo
    echo "== ${BIG_MB} MiB objects: nimbus (durable default) against cat and dd on this disk ($WORK)"
    BIGFILE=$WORK/big.bin
    head -c "$((BIG_MB * 1024 * 1024))" /dev/urandom >"$BIGFILE"
    BYTES=$(stat -c %s "$BIGFILE")
    mbps() { python3 -c "print(f'{$BYTES / 1048576 / float(\"$1\"):.1f}')"; }
    timed() { # timed CMD...: seconds the command took
        local t0 t1
        t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
        python3 -c "print($t1 - $t0)"
    }
    start_server nimbus
    presign() { "$LOADGEN" --endpoint "http://127.0.0.1:$PORT" --presign "$1" --presign-expires 3600; }
    code=$(curl -sS -X PUT -o /dev/null -w '%{http_code}' "$(presign "PUT /$BUCKET")")
    [ "$code" = 200 ] || { echo "CreateBucket answered $code"; exit 1; }
    curl_put() {
        local code
        code=$(curl -sS -H 'Expect:' -T "$BIGFILE" -o /dev/null -w '%{http_code}' "$(presign "PUT /$BUCKET/big.bin")")
        [ "$code" = 200 ] || { echo "PUT answered $code" >&2; return 1; }
    }
    curl_get() {
        local code
        code=$(curl -sS -o /dev/null -w '%{http_code}' "$(presign "GET /$BUCKET/big.bin")")
        [ "$code" = 200 ] || { echo "GET answered $code" >&2; return 1; }
    }
    cat "$BIGFILE" >/dev/null # warm the page cache for cat and for curl -T
    # What loopback TCP and curl carry at best: the same file from a sendfile server.
    SF_PORT=$($LIB freeport)
    $LIB sendfile-server "$BIGFILE" "$SF_PORT" &
    PIDS+=($!)
    $LIB waitport "$SF_PORT" 10 || { echo "the sendfile server did not come up"; exit 1; }
    curl_sendfile() {
        curl -sS -o /dev/null "http://127.0.0.1:$SF_PORT/big.bin"
    }
    CAT=() DD=() PUT=() GET=() SF=() MD5=()
    for r in $(seq 1 "$BIG_ROUNDS"); do
        DD+=("$(mbps "$(timed dd if=/dev/zero of="$WORK/dd.out" bs=1M count="$BIG_MB" conv=fsync status=none)")")
        rm -f "$WORK/dd.out"
        PUT+=("$(mbps "$(timed curl_put)")")
        MD5+=("$(mbps "$(timed md5sum "$BIGFILE")")")
        curl_get # warm: the object's blob, as cat reads a cached file
        GET+=("$(mbps "$(timed curl_get)")")
        SF+=("$(mbps "$(timed curl_sendfile)")")
        CAT+=("$(mbps "$(timed cat "$BIGFILE")")")
        echo "    round $r: dd ${DD[-1]} MiB/s, PutObject ${PUT[-1]} MiB/s, md5sum ${MD5[-1]} MiB/s, cat ${CAT[-1]} MiB/s, GetObject ${GET[-1]} MiB/s, sendfile server ${SF[-1]} MiB/s"
    done
    stop_server
    M_DD=$($LIB median "${DD[@]}"); M_PUT=$($LIB median "${PUT[@]}")
    M_CAT=$($LIB median "${CAT[@]}"); M_GET=$($LIB median "${GET[@]}")
    M_SF=$($LIB median "${SF[@]}"); M_MD5=$($LIB median "${MD5[@]}")
    echo
    echo "== results: ${BIG_MB} MiB objects (medians of $BIG_ROUNDS)"
    echo "    GetObject ${M_GET} MiB/s = $($LIB pct "$M_GET" "$M_CAT") of cat > /dev/null (${M_CAT} MiB/s)"
    echo "              = $($LIB pct "$M_GET" "$M_SF") of a sendfile server to the same curl (${M_SF} MiB/s = $($LIB pct "$M_SF" "$M_CAT") of cat: the loopback ceiling)"
    echo "    PutObject ${M_PUT} MiB/s = $($LIB pct "$M_PUT" "$M_DD") of dd conv=fsync (${M_DD} MiB/s)"
    echo "              = $($LIB pct "$M_PUT" "$M_MD5") of md5sum alone (${M_MD5} MiB/s: the ETag is the body's MD5, one serial pass)"
fi
