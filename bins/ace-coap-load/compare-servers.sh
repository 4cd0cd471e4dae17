#!/usr/bin/env bash
# Compares CoAP servers with one load tool in one run (BENCHMARKS.md, section
# ace-coap): our endpoint (default spawn dispatch; inline first-poll
# dispatch; inline with 200 us busy polling), libcoap's coap-server-notls
# 4.3.1, and the coap crate 0.29's server (current-thread and its documented
# multi-thread runtime), all serving GET /time (15-byte text payload,
# Max-Age 1) on loopback. Each server is pinned to CPU 1 and the load tool
# to CPU 0.
#
# The machine may be shared, so the servers are measured in ROUNDS
# interleaved rounds and the best round of each is reported (highest
# throughput at full load, lowest p99 when paced); every raw row is printed
# first. Before each run the script waits until other processes use less
# than QUIET_BUSY % (default 10) of the CPUs, for up to QUIET_WAIT seconds.
# The paced runs (open loop, latency from the scheduled send time) use half
# of our maximum rate: the best full-load round of any of our variants.
#
# Before each round, host-stalls (same package) keeps both CPUs busy for
# PROBE_SECONDS (default 3) and prints how often the host stopped one for
# 1 ms or more: on a shared virtual machine that bounds the paced p99.
#
# Environment: CLIENTS (default 8), DURATION seconds (default 5), ROUNDS
# (default 3), PROBE_SECONDS (default 3), CARGO_TARGET_DIR (default
# target). Needs coap-server-notls and coap-client-notls (readiness probe)
# on PATH.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLIENTS=${CLIENTS:-8}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --quiet --release -p ace-coap-load
cargo build --quiet --release -p ace-coap --example bench_server --example coap_crate_server
LOAD="$TARGET/release/ace-coap-load"
EX="$TARGET/release/examples"
PIN_SERVER=(); PIN_LOAD=()
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
    PIN_SERVER=(taskset -c 1); PIN_LOAD=(taskset -c 0)
fi

SERVER_PID=""
stop_server() { if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; fi; }
trap stop_server EXIT

# start_server NAME: starts it on a free port, sets SERVER_PID and PORT.
start_server() {
    local name=$1 attempt
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        PORT=$(( 20000 + (RANDOM * 7 + attempt) % 40000 ))
        case $name in
            ours-spawn)  "${PIN_SERVER[@]}" "$EX/bench_server" --port "$PORT" --dispatch spawn >/dev/null & ;;
            ours-inline) "${PIN_SERVER[@]}" "$EX/bench_server" --port "$PORT" --dispatch inline >/dev/null & ;;
            ours-inline-busypoll) "${PIN_SERVER[@]}" "$EX/bench_server" --port "$PORT" --dispatch inline --busy-poll-us 200 >/dev/null & ;;
            libcoap)     "${PIN_SERVER[@]}" coap-server-notls -A 127.0.0.1 -p "$PORT" -v 0 >/dev/null 2>&1 & ;;
            coap-crate-1t) "${PIN_SERVER[@]}" "$EX/coap_crate_server" --port "$PORT" --threads 1 >/dev/null & ;;
            coap-crate-mt) "${PIN_SERVER[@]}" "$EX/coap_crate_server" --port "$PORT" --threads 2 >/dev/null & ;;
        esac
        SERVER_PID=$!
        local i
        for i in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            if coap-client-notls -B 1 -m get "coap://127.0.0.1:$PORT/time" >/dev/null 2>&1; then return 0; fi
            sleep 0.1
        done
        stop_server
    done
    echo "could not start $name" >&2; exit 1
}

# cpu_busy_percent: share of the machine's CPU time not idle over 1 s.
cpu_busy_percent() {
    local a b
    read -r -a a < <(grep '^cpu ' /proc/stat)
    sleep 1
    read -r -a b < <(grep '^cpu ' /proc/stat)
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
    local idle=$(( b[4] - a[4] + b[5] - a[5] ))
    echo $(( total > 0 ? 100 * (total - idle) / total : 100 ))
}

# wait_quiet: the machine may be shared; wait (up to QUIET_WAIT seconds)
# until other processes use less than QUIET_BUSY percent of the CPUs.
QUIET_BUSY=${QUIET_BUSY:-10}
QUIET_WAIT=${QUIET_WAIT:-120}
wait_quiet() {
    local waited=0 busy
    while busy=$(cpu_busy_percent); [ "$busy" -ge "$QUIET_BUSY" ] && [ "$waited" -lt "$QUIET_WAIT" ]; do
        sleep 2; waited=$(( waited + 3 ))
    done
    [ "$busy" -lt "$QUIET_BUSY" ] || echo "note: machine still ${busy}% busy after ${waited}s" >&2
}

run() { # run NAME [extra load args]
    local name=$1; shift
    wait_quiet
    start_server "$name"
    "${PIN_LOAD[@]}" "$LOAD" "coap://127.0.0.1:$PORT/time" -c "$CLIENTS" -d "$DURATION" \
        --server-pid "$SERVER_PID" --label "$name" --markdown-row "$@"
    stop_server
}

# probe_host LABEL: how often the host stops a busy CPU (host-stalls, both
# CPUs busy as during a run); a p99 under 1 ms needs such gaps to be rare.
probe_host() {
    wait_quiet
    echo "$1: $("$TARGET/release/host-stalls" --seconds "${PROBE_SECONDS:-3}" | tail -1)"
}

SERVERS=(ours-spawn ours-inline ours-inline-busypoll libcoap coap-crate-1t coap-crate-mt)
HEADER="| server | clients | rate | req/s | p50 us | p99 us | p99.9 us | p99 from send us | p99 send lag us | lost | server CPU us/req |
|---|---|---|---|---|---|---|---|---|---|---|"
RAW=$(mktemp); trap 'stop_server; rm -f "$RAW"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw rows:"
for round in $(seq "$ROUNDS"); do
    probe_host "full-load round $round"
    for s in "${SERVERS[@]}"; do run "$s" | tee -a "$RAW"; done
done
best_max() { grep "^| $1 | [0-9]* | max " "$RAW" | sort -t'|' -k5 -n -r | head -1; }
# Half of our maximum rate: the best full-load round of any of our variants.
BEST_OURS=$(best_max 'ours-[a-z-]*')
HALF=$(echo "$BEST_OURS" | awk -F'|' '{ printf "%d", $5 / 2 }')
BEST_NAME=$(echo "$BEST_OURS" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }')
for round in $(seq "$ROUNDS"); do
    probe_host "paced round $round"
    for s in "${SERVERS[@]}"; do run "$s" --rate "$HALF" | tee -a "$RAW"; done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "best of $ROUNDS rounds, full load:"
echo "$HEADER"
for s in "${SERVERS[@]}"; do best_max "$s"; done
echo
echo "best of $ROUNDS rounds, paced at $HALF req/s (half of our best, $BEST_NAME's):"
echo "$HEADER"
for s in "${SERVERS[@]}"; do grep "^| $s | [0-9]* | $HALF " "$RAW" | sort -t'|' -k7 -n | head -1; done
