#!/bin/sh
# Paired CPU comparison that the VM's minute-to-minute speed changes cancel out of: two servers
# run at the same time on SERVER_CPU (SCHED_FIFO 20), each under its own bench with CALLS calls
# (both benches at the same time on BENCH_CPU), and each round prints both servers' CPU per
# relayed packet and their ratio. Alternating rounds (bench-compare.sh) put each server in a
# different minute of the VM, and single rounds there move by +-10%; here the ratio of an A/A
# pair stays within 2%. Latency means little here (the two benches share one core, unpinned
# threads); use bench-compare.sh for that.
# Needs root (chrt) and release builds:  cargo build --release --bins
# Usage: scripts/bench-paired.sh [CALLS] [ROUNDS] [A] [B]
#   A, B: rtpbridge (the default build), floor-uring, floor-epoll, or a path to another
#   rtpbridge binary. Default: 500 4 rtpbridge floor-uring.
set -eu
CALLS=${1:-500}
ROUNDS=${2:-4}
A=${3:-rtpbridge}
B=${4:-floor-uring}
T=${CARGO_TARGET_DIR:-target}/release
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
LOGDIR=$(mktemp -d)
PIDS=""
trap 'kill $PIDS 2>/dev/null || true; rm -rf "$LOGDIR"' EXIT INT TERM

# start NAME NG_PORT PORT_MIN PORT_MAX: starts server NAME, prints its pid
start() {
    log="$LOGDIR/$2.log"
    case $1 in
    floor-uring | floor-epoll)
        set -- "$T/rtpbridge-bench" floor --ng "127.0.0.1:$2" --ports "$3-$4" \
            --io "${1#floor-}" ;;
    rtpbridge) set -- "$T/rtpbridge" "$2" "$3" "$4" ;;
    *) set -- "$1" "$2" "$3" "$4" ;;
    esac
    if [ "$2" != floor ]; then
        set -- "$1" --config-file=none -f -E -L 3 -i 127.0.0.1 -n "127.0.0.1:$2" -m "$3" \
            -M "$4" --num-threads=1
    fi
    taskset -c "$SERVER_CPU" "$@" >"$log" 2>&1 &
    echo $!
}

PA=$(start "$A" 22410 9500 13999)
PB=$(start "$B" 22411 14000 18499)
PIDS="$PA $PB"
for port in 22410 22411; do
    i=0
    until ss -uln | grep -q ":$port "; do
        i=$((i + 1))
        [ $i -lt 100 ] || { echo "no NG listener on $port" >&2; exit 1; }
        sleep 0.1
    done
done
chrt -a -f -p 20 "$PA" >/dev/null
chrt -a -f -p 20 "$PB" >/dev/null

echo "# $CALLS calls each, A=$A B=$B, both on core $SERVER_CPU at once"
for r in $(seq 1 "$ROUNDS"); do
    "$T/rtpbridge-bench" run --calls "$CALLS" --rounds 1 --duration 8 --pin "$BENCH_CPU" \
        --targets "A=127.0.0.1:22410,pid=$PA" >"$LOGDIR/a.out" 2>&1 &
    J1=$!
    "$T/rtpbridge-bench" run --calls "$CALLS" --rounds 1 --duration 8 --pin "$BENCH_CPU" \
        --targets "B=127.0.0.1:22411,pid=$PB" >"$LOGDIR/b.out" 2>&1 &
    J2=$!
    wait $J1 $J2
    a=$(sed -n 's/^RESULT.*cpu_us_per_pkt=\([0-9.]*\).*/\1/p' "$LOGDIR/a.out")
    b=$(sed -n 's/^RESULT.*cpu_us_per_pkt=\([0-9.]*\).*/\1/p' "$LOGDIR/b.out")
    la=$(sed -n 's/^RESULT.*loss_pct=\([0-9.]*\).*/\1/p' "$LOGDIR/a.out")
    lb=$(sed -n 's/^RESULT.*loss_pct=\([0-9.]*\).*/\1/p' "$LOGDIR/b.out")
    echo "round $r: A $a us/pkt (loss $la%)  B $b us/pkt (loss $lb%)  A/B $(echo "$a $b" | awk '{printf "%.3f", $1 / $2}')"
done
