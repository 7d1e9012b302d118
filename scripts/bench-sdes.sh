#!/bin/sh
# 1000 calls plain and with --sdes (one SRTP leg per call) against rtpbridge (default: io_uring;
# --io-engine=epoll) and Debian rtpengine 10.5, as in bench-compare.sh. Needs root.
B=${CARGO_TARGET_DIR:-target}/release
start() { taskset -c 1 "$@" > /dev/null 2>&1 & p=$!; sleep 0.3; chrt -a -f -p 20 $p >/dev/null; echo $p; }
P1=$(start $B/rtpbridge --config-file=none -f -E -L 3 -i 127.0.0.1 -n 127.0.0.1:22501 -m 5000 -M 9499 --num-threads=1)
P2=$(start $B/rtpbridge --config-file=none -f -E -L 3 -i 127.0.0.1 -n 127.0.0.1:22502 -m 9500 -M 13999 --num-threads=1 --io-engine=epoll)
P3=$(start /usr/bin/rtpengine --config-file=none --foreground --log-stderr -L 3 --table=-1 --interface=127.0.0.1 --listen-ng=127.0.0.1:22503 --port-min=14000 --port-max=18499 --num-threads=1)
sleep 1
for mode in "" "--sdes"; do
$B/rtpbridge-bench run $mode --calls 1000 --rounds 2 --duration 8 --pin 0 --rt 20 --targets rtpbridge=127.0.0.1:22501,pid=$P1 rtpbridge-epoll=127.0.0.1:22502,pid=$P2 rtpengine=127.0.0.1:22503,pid=$P3 2>&1 | grep -v "^RESULT\|^SUMMARY" | grep -A5 -- "--- 1000"
done
kill $P1 $P2 $P3
