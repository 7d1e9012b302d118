#!/bin/sh
# Compares rtpbridge, rtpengine (user space, --table=-1) and the floor relay under the same
# load: each server pinned to one core (SERVER_CPU), the bench to another (BENCH_CPU), the
# targets measured alternately (A B C A B C ...). Needs release builds:
#   cargo build --release --bins
# Usage: scripts/bench-compare.sh [CALLS] [ROUNDS] [DURATION]   e.g. 200,500 2 10
set -eu
CALLS=${1:-200,500}
ROUNDS=${2:-2}
DURATION=${3:-10}
T=${CARGO_TARGET_DIR:-target}/release
RTPENGINE=${RTPENGINE:-/usr/bin/rtpengine}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
LOGDIR=$(mktemp -d)

taskset -c "$SERVER_CPU" "$T/rtpbridge" --config-file=none -f -i 127.0.0.1 -n 127.0.0.1:22301 \
    -m 10000 -M 19999 --num-threads=1 >"$LOGDIR/rtpbridge.log" 2>&1 &
RB=$!
taskset -c "$SERVER_CPU" "$RTPENGINE" --config-file=none --table=-1 -f -i 127.0.0.1 -n 127.0.0.1:22302 \
    -m 20000 -M 29999 --num-threads=1 >"$LOGDIR/rtpengine.log" 2>&1 &
RE=$!
taskset -c "$SERVER_CPU" "$T/rtpbridge-bench" floor --ng 127.0.0.1:22303 --ports 30000-32000 \
    >"$LOGDIR/floor.log" 2>&1 &
FL=$!
trap 'kill $RB $RE $FL 2>/dev/null || true' EXIT INT TERM
sleep 2

echo "# $(date -u) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg); logs in $LOGDIR"
taskset -c "$BENCH_CPU" "$T/rtpbridge-bench" run --calls "$CALLS" --rounds "$ROUNDS" \
    --duration "$DURATION" --warmup 2 \
    --targets rtpbridge=127.0.0.1:22301,pid=$RB rtpengine=127.0.0.1:22302,pid=$RE \
    floor=127.0.0.1:22303,pid=$FL
for t in rtpbridge=22301,$RB rtpengine=22302,$RE floor=22303,$FL; do
    name=${t%%=*}; rest=${t#*=}; port=${rest%%,*}; pid=${rest#*,}
    echo "# control plane: $name"
    taskset -c "$BENCH_CPU" "$T/rtpbridge-bench" control --ng 127.0.0.1:$port --pid "$pid" --duration 5
done
