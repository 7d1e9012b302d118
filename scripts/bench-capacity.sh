#!/bin/sh
# Capacity search (largest call count with <= 0.1% loss and p99 <= 20 ms, 50 pps per stream) for
# rtpbridge (default: io_uring; --io-engine=epoll) and Debian
# rtpengine 10.5, one media
# thread each on core 1 at SCHED_FIFO 20, the bench on core 0. Needs root and release builds.
B=${CARGO_TARGET_DIR:-target}/release

# Starts a server on core 1 and waits (up to 10 s) until its NG port ($1) is bound: rtpengine
# takes longer than a fixed pause to come up, and a capacity run against nothing fails at once.
start() {
    port=$1; shift
    taskset -c 1 "$@" > /dev/null 2>&1 & p=$!
    for _ in $(seq 100); do
        ss -Hlun "sport = :$port" | grep -q . && break
        sleep 0.1
    done
    chrt -a -f -p 20 $p >/dev/null; echo $p
}
cap() { name=$1; port=$2; pid=$3; echo "# capacity: $name"; $B/rtpbridge-bench capacity --ng 127.0.0.1:$port --pid $pid --start 500 --max-calls 3000 --duration 5 --pin 0 --rt 20 2>&1 | grep -E "^(#|capacity|RESULT|result|  )|calls|rror" | tail -12; }
P=$(start 22402 $B/rtpbridge --config-file=none -f -E -L 3 -i 127.0.0.1 -n 127.0.0.1:22402 -m 5000 -M 17999 --num-threads=1)
cap rtpbridge 22402 $P; kill $P; sleep 1
P=$(start 22401 $B/rtpbridge --config-file=none -f -E -L 3 -i 127.0.0.1 -n 127.0.0.1:22401 -m 5000 -M 17999 --num-threads=1 --io-engine=epoll)
cap rtpbridge-epoll 22401 $P; kill $P; sleep 1
P=$(start 22403 /usr/bin/rtpengine --config-file=none --foreground --log-stderr -L 3 --table=-1 --interface=127.0.0.1 --listen-ng=127.0.0.1:22403 --port-min=18000 --port-max=31999 --num-threads=1)
cap rtpengine 22403 $P; kill $P
