#!/usr/bin/env bash
# Fan-out throughput and latency, pollchat against Redis pub/sub, on one
# machine in one run: the same load generator, payloads and checks for
# both (pollchat-bench fanout, --redis for Redis), so the ratio means
# something. Installs redis-server if it is missing (apt-get; needs root),
# builds the release binaries, starts both servers on loopback, runs every
# shape RUNS times alternating the servers, prints the medians and the
# ratios, and stops both servers. Every run is bounded by `timeout`.
#
#   bench/compare-redis.sh                   # every shape, 3 runs each
#   RUNS=5 SHAPES="fanout100 pub1000" bench/compare-redis.sh
#   BASELINE=/tmp/old/pollchat-server bench/compare-redis.sh
#
# With BASELINE, a third server, another build of pollchat-server (say the
# one before a change), runs beside the two and each shape runs against all
# three in turn: new against old measured side by side, on the same noisy
# machine at the same moment. BASELINE_ARGS are its extra options (default
# "--max-per-ip 0"; set it empty for builds older than that option).
#
# Raw RESULT lines are kept in $OUT (default target/compare-redis.txt), the
# servers' logs beside it (.pollchat.log, .redis.log).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
OUT=${OUT:-target/compare-redis.txt}
PC_PORT=${PC_PORT:-17001}
REDIS_PORT=${REDIS_PORT:-17002}
BASE_PORT=${BASE_PORT:-17003}
BASELINE=${BASELINE:-}
BASELINE_ARGS=${BASELINE_ARGS---max-per-ip 0}
# Longest one run may take: login, --duration, drain, with room to spare.
RUN_TIMEOUT=150
# (Ports below the ephemeral range, 32768 and up, so no client socket holds them.)

# name | options. Windows are chosen so that a receiver's queue in the
# server stays far below pollchat's 1 MiB --max-queue (clients x window x
# ~80 bytes): deeper queues only add latency, not throughput.
ALL_SHAPES=(
    "fanout10|--clients 10 --window 64 --messages 40000"
    "fanout100|--clients 100 --window 16 --messages 2000"
    "fanout1000|--clients 1000 --window 4 --messages 20"
    "pub100|--clients 101 --senders 1 --window 64 --messages 100000"
    "pub1000|--clients 1001 --senders 1 --window 64 --messages 10000"
    "rate10x100|--clients 10 --rate 100 --messages 1000 --duration 10"
)
SHAPES=${SHAPES:-$(printf '%s\n' "${ALL_SHAPES[@]}" | cut -d'|' -f1 | tr '\n' ' ')}

if ! command -v redis-server >/dev/null 2>&1; then
    echo "installing redis-server..."
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi

# Both packages: the server (the root's) and pollchat-bench (bench/).
cargo build --release --quiet --workspace
BIN=target/release
mkdir -p "$(dirname "$OUT")"

# 1000 clients on each side, and Redis wants room for its own files.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

PC_PID=""
REDIS_PID=""
BASE_PID=""
TMP=$(mktemp -d)
cleanup() {
    [ -n "$PC_PID" ] && kill "$PC_PID" 2>/dev/null || true
    [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null || true
    [ -n "$BASE_PID" ] && kill "$BASE_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

# Waits up to 10 s for a command to succeed (a server to be ready).
wait_for() {
    for _ in $(seq 100); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "not ready: $*" >&2
    return 1
}

"$BIN/pollchat-server" --address 127.0.0.1 --port "$PC_PORT" \
    --max-users 5000 --max-per-ip 0 --log-level warn >"$TMP/pollchat.out" 2>"$OUT.pollchat.log" &
PC_PID=$!
wait_for grep -q "Server is on" "$TMP/pollchat.out"

TARGETS="pollchat redis"
if [ -n "$BASELINE" ]; then
    # shellcheck disable=SC2086
    "$BASELINE" --address 127.0.0.1 --port "$BASE_PORT" --max-users 5000 $BASELINE_ARGS \
        --log-level warn >"$TMP/baseline.out" 2>"$OUT.baseline.log" &
    BASE_PID=$!
    wait_for grep -q "Server is on" "$TMP/baseline.out"
    TARGETS="pollchat baseline redis"
    echo "baseline: $BASELINE pid $BASE_PID on $BASE_PORT"
fi

# No persistence (it is a pub/sub benchmark), one I/O thread (as pollchat),
# Redis's default output limits for pub/sub clients.
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --maxclients 10000 --daemonize no --logfile "$(realpath "$OUT").redis.log" &
REDIS_PID=$!
wait_for redis-cli -p "$REDIS_PORT" ping

echo "pollchat-server pid $PC_PID on $PC_PORT; $(redis-server --version | cut -d' ' -f1-3) pid $REDIS_PID on $REDIS_PORT"
: >"$OUT"

options_of() {
    printf '%s\n' "${ALL_SHAPES[@]}" | grep "^$1|" | cut -d'|' -f2
}

# Says so, and stops, if a server has gone: every later run would fail.
check_alive() { # name pid
    if ! kill -0 "$2" 2>/dev/null; then
        local status=0
        wait "$2" || status=$?
        echo "$1 (pid $2) has exited, status $status; its log: $OUT.$1.log" >&2
        exit 1
    fi
}

run_one() { # shape target args...
    local shape=$1 target=$2
    shift 2
    check_alive pollchat "$PC_PID"
    check_alive redis "$REDIS_PID"
    [ -z "$BASE_PID" ] || check_alive baseline "$BASE_PID"
    local line
    if line=$(timeout "$RUN_TIMEOUT" "$BIN/pollchat-bench" fanout "$@" | grep '^RESULT'); then
        # The tool says pollchat for any pollchat; name the build.
        line=$(sed "s/ target=[^ ]*/ target=$target/" <<<"$line")
        echo "$line shape=$shape" >>"$OUT"
        echo "  $target: $(field deliveries_per_s <<<"$line") deliveries/s, p99 $(field p99_us <<<"$line") us, loss $(field loss <<<"$line")"
    else
        echo "  $target: FAILED (see above)"
        echo "RESULT target=$target shape=$shape failed=1" >>"$OUT"
    fi
}

# The value of key $1 in the RESULT line on stdin.
field() {
    tr ' ' '\n' | sed -n "s/^$1=//p" | head -1
}

# Median of key $2 over the RESULT lines of shape $1 against target $3.
median() {
    grep " shape=$1\$" "$OUT" | grep " target=$3 " | field_all "$2" |
        sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
field_all() {
    while read -r line; do field "$1" <<<"$line"; done
}

for shape in $SHAPES; do
    opts=$(options_of "$shape")
    [ -n "$opts" ] || { echo "unknown shape $shape" >&2; exit 2; }
    echo "== $shape: $opts"
    for run in $(seq "$RUNS"); do
        echo " run $run"
        # shellcheck disable=SC2086
        run_one "$shape" pollchat --addr "127.0.0.1:$PC_PORT" --server-pid "$PC_PID" $opts
        # shellcheck disable=SC2086
        run_one "$shape" redis --redis "127.0.0.1:$REDIS_PORT" --server-pid "$REDIS_PID" $opts
        if [ -n "$BASE_PID" ]; then
            # shellcheck disable=SC2086
            run_one "$shape" baseline --addr "127.0.0.1:$BASE_PORT" --server-pid "$BASE_PID" $opts
        fi
    done
done

echo
echo "Medians of $RUNS runs (raw lines in $OUT). ratio = pollchat / redis deliveries/s."
printf '%-11s %-9s %14s %9s %9s %10s %6s %6s %8s %12s %8s\n' \
    shape target deliveries/s p50_us p99_us max_us loss dup reorder server_cpu_s tool_ns
for shape in $SHAPES; do
    for target in $TARGETS; do
        printf '%-11s %-9s %14s %9s %9s %10s %6s %6s %8s %12s %8s\n' "$shape" "$target" \
            "$(median "$shape" deliveries_per_s "$target")" \
            "$(median "$shape" p50_us "$target")" \
            "$(median "$shape" p99_us "$target")" \
            "$(median "$shape" max_us "$target")" \
            "$(median "$shape" loss "$target")" \
            "$(median "$shape" dup "$target")" \
            "$(median "$shape" reorder "$target")" \
            "$(median "$shape" server_cpu_s "$target")" \
            "$(median "$shape" tool_ns_per_delivery "$target")"
    done
    pc=$(median "$shape" deliveries_per_s pollchat)
    rd=$(median "$shape" deliveries_per_s redis)
    pc99=$(median "$shape" p99_us pollchat)
    rd99=$(median "$shape" p99_us redis)
    awk -v s="$shape" -v a="$pc" -v b="$rd" -v c="$pc99" -v d="$rd99" 'BEGIN {
        if (b + 0 > 0 && d + 0 > 0) printf "%-11s ratio     %14.2f x deliveries/s, p99 %.2f x redis\n", s, a / b, c / d
    }'
    if [ -n "$BASE_PID" ]; then
        bl=$(median "$shape" deliveries_per_s baseline)
        awk -v s="$shape" -v a="$pc" -v b="$bl" 'BEGIN {
            if (b + 0 > 0) printf "%-11s vs base   %14.2f x deliveries/s of the baseline build\n", s, a / b
        }'
    fi
done
