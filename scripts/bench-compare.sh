#!/bin/sh
# Compares rtpbridge (default: io_uring; io_uring with --wakeup-batch-us=200;
# --io-engine=epoll), Debian's rtpengine (user space,
# --table=-1) and the two no-logic floor relays (epoll, io_uring) under the same load: each
# server with one media thread pinned to SERVER_CPU and SCHED_FIFO 20, the bench pinned to
# BENCH_CPU with SCHED_FIFO 20 (--rt), targets measured alternately (A B C D E A B ...).
# Port ranges stay outside the kernel's ephemeral range (32768-60999), where the bench's own
# sockets live. Needs root (chrt) and release builds:
#   cargo build --release --bins
# Usage: scripts/bench-compare.sh [CALLS] [ROUNDS] [DURATION]   e.g. 500,1000 2 8
# SKIP_LOAD=1 runs the control-plane part only.
set -eu
CALLS=${1:-500,1000}
ROUNDS=${2:-2}
DURATION=${3:-8}
T=${CARGO_TARGET_DIR:-target}/release
RTPENGINE=${RTPENGINE:-/usr/bin/rtpengine}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
LOGDIR=$(mktemp -d)
PIDS=""

start() {
    name=$1
    shift
    taskset -c "$SERVER_CPU" "$@" >"$LOGDIR/$name.log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    sleep 0.3
    chrt -a -f -p 20 "$pid" >/dev/null
    echo "$pid"
}
trap 'kill $PIDS 2>/dev/null || true' EXIT INT TERM

RB=$(start rtpbridge "$T/rtpbridge" --config-file=none -f -E -L 3 -i 127.0.0.1 \
    -n 127.0.0.1:22302 -m 9500 -M 13999 --num-threads=1)
RE0=$(start rtpbridge-epoll "$T/rtpbridge" --config-file=none -f -E -L 3 -i 127.0.0.1 \
    -n 127.0.0.1:22301 -m 5000 -M 9499 --num-threads=1 --io-engine=epoll)
RU0=$(start rtpbridge-uring-batch200 "$T/rtpbridge" --config-file=none -f -E -L 3 -i 127.0.0.1 \
    -n 127.0.0.1:22306 -m 14000 -M 18499 --num-threads=1 --wakeup-batch-us=200)
RE=$(start rtpengine "$RTPENGINE" --config-file=none --foreground --log-stderr -L 3 --table=-1 \
    --interface=127.0.0.1 --listen-ng=127.0.0.1:22303 --port-min=18500 --port-max=22999 \
    --num-threads=1)
FE=$(start floor-epoll "$T/rtpbridge-bench" floor --ng 127.0.0.1:22304 --ports 23000-27499 --io epoll)
FU=$(start floor-uring "$T/rtpbridge-bench" floor --ng 127.0.0.1:22305 --ports 27500-31999 --io uring)
PIDS="$PIDS $RB $RE0 $RU0 $RE $FE $FU"
sleep 1

if [ "${SKIP_LOAD:-0}" != 1 ]; then
"$T/rtpbridge-bench" run --calls "$CALLS" --rounds "$ROUNDS" --duration "$DURATION" \
    --pin "$BENCH_CPU" --rt 20 \
    --targets rtpbridge=127.0.0.1:22302,pid=$RB rtpbridge-epoll=127.0.0.1:22301,pid=$RE0 \
    rtpbridge-uring-batch200=127.0.0.1:22306,pid=$RU0 \
    rtpengine=127.0.0.1:22303,pid=$RE floor-epoll=127.0.0.1:22304,pid=$FE \
    floor-uring=127.0.0.1:22305,pid=$FU
fi
# Control plane: each server alone on its core (the others stopped: rtpengine's timer threads
# wake up even when idle), in ROUNDS alternating rounds.
for r in $(seq "$ROUNDS"); do
    for t in rtpbridge=22302,$RB rtpengine=22303,$RE floor-epoll=22304,$FE; do
        name=${t%%=*}; rest=${t#*=}; port=${rest%%,*}; pid=${rest#*,}
        others=$(echo $PIDS | tr ' ' '\n' | grep -vx "$pid" | tr '\n' ' ')
        kill -STOP $others
        echo "# control plane: $name, round $r"
        "$T/rtpbridge-bench" control --ng 127.0.0.1:$port --pid "$pid" --duration 5 \
            --pin "$BENCH_CPU"
        kill -CONT $others
    done
done
