#!/usr/bin/env bash
# DynamoDB benchmark: nimbus (durable default, --sync none, --in-memory) side by side with
# dynalite (npm, pinned in bench/package.json) on this machine, driven by nimbus-loadgen
# with correctly signed requests (by default replayed from a pool signed at the start of
# each run, so the generator costs about what wrk does; LOADGEN_CLIENT=hyper signs every
# request instead, as an SDK would, and takes a larger share of the 2 cores). Prints req/s, p50/p99 and the ratio to dynalite, plus
# nimbus's start-to-first-healthy-response time and idle RSS.
#
# dynalite runs twice: `dynalite`, its default, keeps tables in memory; `dynalite-disk`
# (`--path`) keeps them in LevelDB on disk and, like nimbus's `--sync none`, does not
# fsync. The table's "x dynalite" column compares with the first, "x disk" with the second.
#
# `bare-hyper` (tools/loadgen's nimbus-fixed-server) is the ceiling: a hyper server on
# nimbus's runtime setup that reads each request and answers a fixed GetItem-shaped
# response, with no routing, signature check or storage. Its ratio to dynalite is the most
# any server on this stack can reach on this machine with this generator; the table's last
# column puts each nimbus run against it.
#
# Usage: bench/dynamodb.sh            (about 12 minutes with the defaults, plus the first
#                                     release build; a benchmark, not a test)
# Knobs: BENCH_SECONDS (measured seconds per run, default 10), BENCH_WARMUP (default 2s),
#        BENCH_ROUNDS (default 3: every server runs once per round; the table shows medians
#        and the median of the per-round ratios, because a shared VM drifts between runs),
#        BENCH_KEYS (preloaded keys, default 10000), GET_CONNS (64), PUT_CONNS (128),
#        LOADGEN_THREADS (1: the generator shares the 2 cores with the server),
#        LOADGEN_CLIENT (replay, the default, or hyper),
#        BENCH_ONLY (space-separated subset of: durable sync-none in-memory dynalite
#        dynalite-disk bare-hyper),
#        BENCH_PROFILE (release; `dev` only to check the script itself quickly).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-3}
WARMUP=${BENCH_WARMUP:-2s}
KEYS=${BENCH_KEYS:-10000}
GET_CONNS=${GET_CONNS:-64}
PUT_CONNS=${PUT_CONNS:-128}
LG_THREADS=${LOADGEN_THREADS:-1}
LG_CLIENT=${LOADGEN_CLIENT:-replay}
ONLY=${BENCH_ONLY:-"durable sync-none in-memory dynalite dynalite-disk bare-hyper"}
PROFILE=${BENCH_PROFILE:-release}
LIB="python3 $ROOT/bench/benchlib.py"

WORK=$(mktemp -d /tmp/nimbus-bench.XXXXXX)
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

echo "== building nimbus and nimbus-loadgen ($PROFILE)"
cargo build --profile "$PROFILE" --locked -p nimbus -p nimbus-loadgen
OUT_DIR=$TARGET_DIR/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
NIMBUS=$OUT_DIR/nimbus
LOADGEN=$OUT_DIR/nimbus-loadgen
FIXED=$OUT_DIR/nimbus-fixed-server

echo "== installing dynalite (pinned) into bench/node_modules"
if [ ! -x "$ROOT/bench/node_modules/.bin/dynalite" ]; then
    (cd "$ROOT/bench" && npm ci --no-audit --no-fund --loglevel=error)
fi
DYNALITE=$ROOT/bench/node_modules/.bin/dynalite

start_server() { # start_server NAME -> sets PORT and SERVER_PID
    local name=$1
    PORT=$($LIB freeport)
    local log=$WORK/$name.log
    rm -rf "$WORK/data-$name" # every round starts from an empty store
    case $name in
        durable)   "$NIMBUS" up --bind "127.0.0.1:$PORT" --data-dir "$WORK/data-$name" >"$log" 2>&1 & ;;
        sync-none) "$NIMBUS" up --bind "127.0.0.1:$PORT" --data-dir "$WORK/data-$name" --sync none >"$log" 2>&1 & ;;
        in-memory) "$NIMBUS" up --bind "127.0.0.1:$PORT" --in-memory >"$log" 2>&1 & ;;
        dynalite)  "$DYNALITE" --port "$PORT" --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$log" 2>&1 & ;;
        dynalite-disk) "$DYNALITE" --port "$PORT" --path "$WORK/data-$name" --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$log" 2>&1 & ;;
        bare-hyper) "$FIXED" --bind "127.0.0.1:$PORT" >"$log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local health=/_nimbus/health
    case $name in dynalite*|bare-hyper) health=/ ;; esac
    if ! $LIB wait "http://127.0.0.1:$PORT$health" 20; then
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
    out=$("$LOADGEN" --endpoint "http://127.0.0.1:$PORT" --workload "$workload" \
        --table bench --key-space "$KEYS" --item-size 100 --connections "$conns" \
        --duration "${SECONDS_PER_RUN}s" --warmup "$WARMUP" --threads "$LG_THREADS" --client "$LG_CLIENT" --json "$@")
    echo "$out" | grep -v '^RESULT ' | sed "s/^/    /"
    echo "$out" | grep '^RESULT ' | sed 's/^RESULT //' |
        python3 -c "import json,sys; d=json.load(sys.stdin); d['server']='$server'; \
d['workload']={'get-item':'GetItem','put-item':'PutItem'}['$workload']; d['round']=$ROUND; print(json.dumps(d))" \
        >>"$RESULTS"
}

echo
echo "== nimbus start-up and idle memory"
BOOT_MS=$($LIB boot-ms 5 "$NIMBUS" up --bind "127.0.0.1:{port}" --data-dir "{dir}")
start_server durable
sleep 1
IDLE_RSS=$($LIB rss-mb "$SERVER_PID")
stop_server
echo "    start to first healthy response: ${BOOT_MS} ms (median of 5)"
echo "    idle RSS: ${IDLE_RSS} MB"

for ROUND in $(seq 1 "$ROUNDS"); do
    for server in $ONLY; do
        echo
        echo "== round $ROUND/$ROUNDS: $server"
        start_server "$server"
        if [ "$server" = bare-hyper ]; then
            # It answers every request the same: there is no table to create.
            echo "  GetItem, $GET_CONNS connections"
            run_load "$server" get-item "$GET_CONNS"
        else
            echo "  GetItem, $GET_CONNS connections (table created and $KEYS keys preloaded first)"
            run_load "$server" get-item "$GET_CONNS" --create-table --preload
        fi
        echo "  PutItem, $PUT_CONNS connections"
        run_load "$server" put-item "$PUT_CONNS"
        stop_server
    done
done

echo
echo "== results ($(nproc) cores, $ROUNDS rounds, ${SECONDS_PER_RUN}s per run after ${WARMUP} warmup, loadgen threads $LG_THREADS, client $LG_CLIENT)"
$LIB table "$RESULTS"
echo "nimbus start to first healthy response: ${BOOT_MS} ms; idle RSS: ${IDLE_RSS} MB"
