#!/usr/bin/env bash
# bcast-bridge --jetstream through a 3-node JetStream cluster on 127.0.0.1
# (an R3 stream): BCAST_BRIDGE_JS_MESSAGES (default 1,000,000) messages,
# every payload checked (tests/bridge/bridge-check), while the node the out
# bridge is connected to is killed, while the in bridge is killed and
# started again, and while the out bridge is: each time nothing is lost and
# nothing comes twice.  TAP; the last line "N passed, N failed".
# Usage: tests/bridge/test-bridge-jetstream.sh   (BCAST_TOOLS: the tools)
set -u -o pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/bridge/nats-cluster.sh
. tests/bridge/bridge-lib.sh

TOOLS=${BCAST_TOOLS:-build/tools}
BRIDGE=$TOOLS/bcast-bridge
CHECK=${BCAST_BRIDGE_CHECK:-build/tests/bridge/bridge-check}
N=${BCAST_BRIDGE_JS_MESSAGES:-1000000}
RATE=${BCAST_BRIDGE_JS_RATE:-50000}	# what an R3 stream keeps up with here
BIG_EVERY=50000
TAG=bj$$

case "${1:-}" in
-h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
for f in "$BRIDGE" "$CHECK" "$TOOLS/bcastctl"; do
	if [ ! -x "$f" ]; then
		tap_not_ok "bridge-jetstream: $f is not built (make tools tests)"
		tap_summary bridge-jetstream
		exit 1
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bcast-bridge-js.XXXXXX")
PIDS=()
cleanup() {
	local p r
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	nats_cluster_stop
	for r in 1 2 3; do
		"$TOOLS/bcastctl" destroy "shm:$TAG-src$r" >/dev/null 2>&1
		"$TOOLS/bcastctl" destroy "shm:$TAG-dst$r" >/dev/null 2>&1
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# The bridges are ready once they say so (a stream just created, or whose
# leader moves, takes seconds to answer).
ready_count() {
	echo $(($(grep -c "bridging" "$WORK/$1.err" 2>/dev/null) + 1))
}

start_in() {
	local want
	want=$(ready_count "in$1")
	start "in$1" "$BRIDGE" in "$NATS_URLS" "$TAG.s$1" "shm:$TAG-dst$1" -c \
		--ring-size 64M -j "${TAG}S$1" --replicas 3 --json -v \
		--reconnect-wait-ms 50
	IN=$LAST
	wait_line "$WORK/in$1.err" "bridging" 70 "$want"
}

start_out() {
	local want
	want=$(ready_count "out$1")
	start "out$1" "$BRIDGE" out "shm:$TAG-src$1" "$NATS_URLS" "$TAG.s$1" \
		-j "${TAG}S$1" --replicas 3 --json -v --reconnect-wait-ms 50
	OUT=$LAST
	wait_line "$WORK/out$1.err" "bridging" 70 "$want"
}

# run K WHAT: N messages over stream K while `disturb` does WHAT to it.
run() {
	local k=$1 what=$2 rc line t0 t1
	# it holds what comes while a new stream leader is elected (seconds)
	"$TOOLS/bcastctl" create "shm:$TAG-src$k" --size 512M >/dev/null
	if ! start_in "$k" || ! start_out "$k"; then
		tap_not_ok "$what: the bridges connect"
		return
	fi
	# three times the publishing time, and a minute for the disturbance
	start "verify$k" "$CHECK" verify "shm:$TAG-dst$k" "$N" $((N * 3 / RATE + 60))
	local verify=$LAST
	t0=$(date +%s.%N)
	start "publish$k" "$CHECK" publish "shm:$TAG-src$k" "$N" "$BIG_EVERY" "$RATE"
	local pub=$LAST
	sleep 3
	disturb_$k
	wait "$pub"
	wait "$verify"
	rc=$?
	t1=$(date +%s.%N)
	line=$(cat "$WORK/verify$k.out")
	echo "# $line, $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
	[ $rc -eq 0 ] && [ "$(field "$line" delivered)" = "$N" ] &&
		[ "$(field "$line" lost)" = 0 ] && [ "$(field "$line" late)" = 0 ]
	tap_result $? "$what: all $N messages, each once, every payload checked"
	kill -TERM "$OUT" "$IN" 2>/dev/null
	wait "$OUT" "$IN"
	sed 's/^/# out: /' "$WORK/out$k.out"; sed 's/^/# in: /' "$WORK/in$k.out"
}

disturb_1() {
	local node
	node=$(nats_client_node_of_pid "$OUT" 5)
	nats_node_kill "$node"
	echo "# killed node $node, the out bridge's"
	sleep 3
	nats_node_start "$node" >/dev/null 2>&1 || echo "# node $node did not come back"
}

disturb_2() {
	kill -KILL "$IN"
	wait "$IN" 2>/dev/null
	echo "# killed the in bridge (SIGKILL) at 3 s; again in 1 s"
	sleep 1
	start_in 2 || echo "# the in bridge did not come back"
}

disturb_3() {
	kill -KILL "$OUT"
	wait "$OUT" 2>/dev/null
	echo "# killed the out bridge (SIGKILL) at 3 s; again in 1 s"
	sleep 1
	start_out 3 || echo "# the out bridge did not come back"
}

# cluster K: a fresh one for run K (a node that was killed and came back
# leaves the cluster busy for a while).
cluster() {
	nats_cluster_stop
	if ! nats_cluster_start "$WORK/nats$1" 3 --jetstream >"$WORK/cluster$1.log" 2>&1; then
		tap_not_ok "a 3-node JetStream cluster on 127.0.0.1"
		sed 's/^/#   /' "$WORK/cluster$1.log" | tail -n 20
		tap_summary bridge-jetstream
		exit 1
	fi
	tap_ok "a 3-node JetStream cluster on 127.0.0.1 ($NATS_URLS)"
}

echo "TAP version 13"
cluster 1

run 1 "the out bridge's node killed"
[ "$(json_field "$WORK/out1.out" reconnects)" -ge 1 ] 2>/dev/null
tap_result $? "... the out bridge reconnected"

cluster 2
run 2 "the in bridge killed and started again"
# The second one went on from what the ring had, its consumer from what
# the first acknowledged: it wrote the rest, and saw again only the few
# packets not yet acknowledged.
had=$(sed -n 's/.*has messages up to \([0-9]*\): going on.*/\1/p' "$WORK/in2.err" | tail -n 1)
second=$(json_field "$WORK/in2.out" messages)
dups=$(json_field "$WORK/in2.out" duplicates)
echo "# the ring had $had messages at the restart; the second in bridge wrote $second, dropped $dups seen before"
[ -n "$had" ] && [ -n "$second" ] && [ -n "$dups" ] && [ "$had" -gt 0 ] && [ $((had + second)) -eq "$N" ] && [ "$dups" -lt "$had" ]
tap_result $? "... the second in bridge went on where the first stopped"

cluster 3
run 3 "the out bridge killed and started again"
grep -q "going on from there" "$WORK/out3.err"
tap_result $? "... the second out bridge went on after what the stream had"

nats_cluster_stop
tap_summary bridge-jetstream
