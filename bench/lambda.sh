#!/usr/bin/env bash
# Lambda benchmark: nimbus (sandboxed) side by side with rustack (crates.io `rustack-cli`,
# its native backend: functions as plain unsandboxed host processes, no Docker) on this
# machine, driven by nimbus-loadgen with SigV4-signed Invoke requests.
#
# The function is bench/lambda_fn: a provided.al2023 `bootstrap` built with AWS's Rust
# runtime crate (`lambda_runtime`) that echoes its event. Per server and round:
#  - cold start: BENCH_COLD_RUNS times CreateFunction, then the first Invoke of the new
#    function (a new execution environment: sandbox, process start, runtime init) timed
#    on an open connection; the median is reported;
#  - warm Invoke at 1 connection (p50 round trip: signed Invoke API → handler → response)
#    and at 10 connections (invokes/s, errors).
# And nimbus only (rustack's native backend runs provided.* only): the cold start of a
# trivial Python handler next to the start-up of the same interpreter (`python3.X -s -c
# pass`, the flags nimbus starts it with), each a median of BENCH_COLD_RUNS, measured back
# to back in every round (this VM drifts); the table shows the median of the per-round
# differences.
#
# Usage: bench/lambda.sh            (about 3 minutes once built; a benchmark, not a test)
# Knobs: BENCH_SECONDS (measured seconds per warm run, default 10), BENCH_WARMUP (2s),
#        BENCH_ROUNDS (3), BENCH_COLD_RUNS (20), LOADGEN_THREADS (1),
#        BENCH_ONLY (subset of: nimbus rustack), BENCH_PYTHON (0 skips the Python part),
#        BENCH_PROFILE (release; `dev` only to check the script itself quickly),
#        BENCH_PEERS_DIR (where rustack is installed; default $CARGO_TARGET_DIR/bench-peers).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-2s}
ROUNDS=${BENCH_ROUNDS:-3}
COLD_RUNS=${BENCH_COLD_RUNS:-20}
LG_THREADS=${LOADGEN_THREADS:-1}
ONLY=${BENCH_ONLY:-"nimbus rustack"}
PYTHON_PART=${BENCH_PYTHON:-1}
PROFILE=${BENCH_PROFILE:-release}
PEERS=${BENCH_PEERS_DIR:-$TARGET_DIR/bench-peers}
RUSTACK_VERSION=0.12.0
EVENT='{"bench":true,"n":42}'
LIB="python3 $ROOT/bench/benchlib.py"
export RUST_BACKTRACE=0

WORK=$(mktemp -d /tmp/nimbus-bench-lambda.XXXXXX)
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

echo "== building nimbus, nimbus-loadgen ($PROFILE) and the function (release)"
cargo build --profile "$PROFILE" --locked -p nimbus -p nimbus-loadgen
OUT_DIR=$TARGET_DIR/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")
NIMBUS=$OUT_DIR/nimbus
LOADGEN=$OUT_DIR/nimbus-loadgen
cargo build --release --locked --manifest-path "$ROOT/bench/lambda_fn/Cargo.toml" \
    --target-dir "$TARGET_DIR/lambda-bench"
FN_ZIP=$WORK/echo.zip
$LIB zip "$FN_ZIP" "$TARGET_DIR/lambda-bench/release/bootstrap=bootstrap:755"
PY_ZIP=$WORK/py.zip
printf 'def handler(event, context):\n    return event\n' >"$WORK/index.py"
$LIB zip "$PY_ZIP" "$WORK/index.py=index.py:644"

if [[ " $ONLY " == *" rustack "* ]] && [ ! -x "$PEERS/rustack/bin/rustack" ]; then
    echo "== installing rustack-cli $RUSTACK_VERSION (pinned) into $PEERS/rustack (once; about 10 minutes)"
    # rustack-lambda-runtime 0.9.0 asks for webpki-roots ~1.0.11, which the package
    # registry this machine reaches does not carry; 1.0.10 is the same crate one release
    # earlier (the TLS root certificates rustack uses for downloads, not on any path
    # measured here). Everything else is installed exactly as published.
    mkdir -p "$PEERS/src"
    curl -sSfL "https://static.crates.io/crates/rustack-lambda-runtime/rustack-lambda-runtime-0.9.0.crate" |
        tar xz -C "$PEERS/src"
    sed -i 's/^version = "~1.0.11"$/version = "1.0.10"/' "$PEERS/src/rustack-lambda-runtime-0.9.0/Cargo.toml"
    CARGO_TARGET_DIR=$PEERS/rustack-build cargo install rustack-cli --version "$RUSTACK_VERSION" \
        --root "$PEERS/rustack" \
        --config "patch.crates-io.rustack-lambda-runtime.path=\"$PEERS/src/rustack-lambda-runtime-0.9.0\""
    rm -rf "$PEERS/rustack-build"
fi
RUSTACK=$PEERS/rustack/bin/rustack

# The interpreter nimbus runs python3.X on (the same lookup).
PY_RUNTIME=""
PY_BIN=""
if [ "$PYTHON_PART" = 1 ]; then
    read -r PY_RUNTIME PY_BIN <<<"$(BENCH_LOOKUP_PATH=$PATH $LIB find-python)" || true
    [ -z "$PY_RUNTIME" ] && echo "no python3.9-3.14 interpreter found: skipping the Python part"
fi

start_server() { # start_server NAME -> sets PORT and SERVER_PID
    local name=$1
    PORT=$($LIB freeport)
    local log=$WORK/$name.log
    rm -rf "$WORK/data-$name"
    case $name in
        nimbus) "$NIMBUS" up --bind "127.0.0.1:$PORT" --data-dir "$WORK/data-$name" >"$log" 2>&1 & ;;
        rustack) GATEWAY_LISTEN=127.0.0.1:$PORT GATEWAY_PORT=$PORT LAMBDA_EXECUTOR=native \
                 SERVICES=lambda,iam,sts LOG_LEVEL=warn RUSTACK_SNAPSHOT_DIR=$WORK/data-$name \
                 "$RUSTACK" >"$log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local health=/_nimbus/health
    [ "$name" = rustack ] && health=/_localstack/health
    if ! $LIB wait "http://127.0.0.1:$PORT$health" 20; then
        echo "$name did not come up:"; cat "$log"; exit 1
    fi
}

stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}

record() { # record SERVER KIND OUTPUT
    echo "$3" | grep -v '^RESULT ' | sed "s/^/    /"
    echo "$3" | grep '^RESULT ' | sed 's/^RESULT //' |
        python3 -c "import json,sys; d=json.load(sys.stdin); d['server']='$1'; d['kind']='$2'; \
d['round']=$ROUND; print(json.dumps(d))" >>"$RESULTS"
}

lg() { "$LOADGEN" --endpoint "http://127.0.0.1:$PORT" --threads "$LG_THREADS" --json --create-role bench "$@"; }


for ROUND in $(seq 1 "$ROUNDS"); do
    for server in $ONLY; do
        echo
        echo "== round $ROUND/$ROUNDS: $server"
        start_server "$server"
        echo "  cold start, provided.al2023 (median of $COLD_RUNS new functions)"
        record "$server" cold "$(lg --workload lambda-cold --zip "$FN_ZIP" --function cold \
            --body "$EVENT" --cold-runs "$COLD_RUNS")"
        echo "  warm Invoke, 1 connection"
        record "$server" warm1 "$(lg --workload lambda-invoke --create-function --zip "$FN_ZIP" \
            --function echo --body "$EVENT" --connections 1 --duration "${SECONDS_PER_RUN}s" --warmup "$WARMUP")"
        echo "  warm Invoke, 10 connections"
        record "$server" warm10 "$(lg --workload lambda-invoke --function echo --body "$EVENT" \
            --connections 10 --duration "${SECONDS_PER_RUN}s" --warmup "$WARMUP")"
        if [ "$server" = nimbus ] && [ -n "$PY_RUNTIME" ]; then
            start_ms=$($LIB spawn-ms "$COLD_RUNS" "$PY_BIN" -s -c pass)
            echo "  $PY_BIN -s -c pass: $start_ms ms (median of $COLD_RUNS)"
            echo "{\"server\":\"nimbus\",\"kind\":\"pystart\",\"round\":$ROUND,\"ms\":$start_ms}" >>"$RESULTS"
            echo "  cold start, $PY_RUNTIME (median of $COLD_RUNS new functions)"
            record "$server" pycold "$(lg --workload lambda-cold --zip "$PY_ZIP" --runtime "$PY_RUNTIME" \
                --handler index.handler --function pycold --body "$EVENT" --cold-runs "$COLD_RUNS")"
        fi
        stop_server
    done
done

echo
echo "== results ($(nproc) cores, $ROUNDS rounds, ${SECONDS_PER_RUN}s per warm run after ${WARMUP} warmup, loadgen threads $LG_THREADS)"
$LIB lambda-table "$RESULTS"
