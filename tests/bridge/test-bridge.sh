#!/usr/bin/env bash
# bcast-bridge between two rings through a 3-node NATS cluster on
# 127.0.0.1 (tests/bridge/nats-cluster.sh): its command line; every
# payload of BCAST_BRIDGE_MESSAGES (default 1,000,000) messages checked
# byte for byte (tests/bridge/bridge-check), large ones in fragments; the
# node each bridge is connected to killed mid-stream: both reconnect and
# the destination's readers are told exactly what was lost; a source ring
# that laps the bridge; a new writer at the source seen downstream; a
# clean exit on SIGTERM.  TAP; the last line "N passed, N failed".
# Usage: tests/bridge/test-bridge.sh   (BCAST_TOOLS: where the tools are)
set -u -o pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/bridge/nats-cluster.sh
. tests/bridge/bridge-lib.sh

TOOLS=${BCAST_TOOLS:-build/tools}
BRIDGE=$TOOLS/bcast-bridge
CHECK=${BCAST_BRIDGE_CHECK:-build/tests/bridge/bridge-check}
N=${BCAST_BRIDGE_MESSAGES:-1000000}
RATE=${BCAST_BRIDGE_RATE:-100000}	# messages a second: NATS keeps up
BIG_EVERY=50000				# 1.5 MiB: over max_payload, fragmented
TAG=bt$$

case "${1:-}" in
-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
for f in "$BRIDGE" "$CHECK" "$TOOLS/bcast-pub" "$TOOLS/bcast-sub" "$TOOLS/bcastctl"; do
	if [ ! -x "$f" ]; then
		tap_not_ok "bridge: $f is not built (make tools tests)"
		tap_summary bridge
		exit 1
	fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bcast-bridge.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	nats_cluster_stop
	for r in src dst src2 dst2 src3 dst3 src4 dst4; do
		"$TOOLS/bcastctl" destroy "shm:$TAG-$r" >/dev/null 2>&1
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# stop PID: SIGTERM, and its exit status.
stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1"
}

echo "TAP version 13"

# ---- the command line ----
"$BRIDGE" --help >"$WORK/help" 2>&1
tap_result $? "--help exits 0"
grep -q "^Usage: bcast-bridge out RING" "$WORK/help"
tap_result $? "--help says how to call it"
usage_error() {
	local want=$1
	shift
	"$BRIDGE" "$@" >"$WORK/usage" 2>&1
	local rc=$?
	[ $rc -eq 2 ] && grep -q -- "$want" "$WORK/usage"
	tap_result $? "usage error (exit 2, '$want'): $*"
	[ $rc -eq 2 ] || sed 's/^/#   /' "$WORK/usage"
}
usage_error "out or in" shm:x nats://127.0.0.1:1 s
usage_error "takes RING SERVERS SUBJECT" out shm:x nats://127.0.0.1:1
usage_error "no server list" out shm:x 127.0.0.1:1 s
usage_error "no subject" out shm:x nats://127.0.0.1:1 'a.>'
usage_error "go together" out shm:x nats://127.0.0.1:1 s --tls-cert c
usage_error "are for 'out'" in nats://127.0.0.1:1 s shm:x --flush-us 5
usage_error "is neither" out shm:x nats://127.0.0.1:1 s --from middle

"$BRIDGE" out "shm:$TAG-none" nats://127.0.0.1:1 s >"$WORK/noring" 2>&1
rc=$?
[ $rc -eq 3 ] && grep -q "shm:$TAG-none" "$WORK/noring"
tap_result $? "a ring that does not exist: exit 3, named"
"$CHECK" publish "shm:$TAG-src" 0 && \
	"$BRIDGE" out "shm:$TAG-src" nats://127.0.0.1:1 s --connect-timeout-ms 200 \
		--max-reconnect 0 >"$WORK/refused" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "cannot connect to nats://127.0.0.1:1" "$WORK/refused"
tap_result $? "no server: exit 1, the servers named"
sed 's/^/#   /' "$WORK/refused"

# ---- a cluster ----
if ! nats_cluster_start "$WORK/nats" 3 >"$WORK/cluster.log" 2>&1; then
	tap_not_ok "a 3-node NATS cluster on 127.0.0.1"
	sed 's/^/#   /' "$WORK/cluster.log" | tail -n 20
	tap_summary bridge
	exit 1
fi
tap_ok "a 3-node NATS cluster on 127.0.0.1 ($NATS_URLS)"

# bridge SUFFIX SUBJECT [OUT OPTIONS...]: in (to dst$SUFFIX, created) and
# out (from src$SUFFIX), both connected; pids in $IN and $OUT.
bridge() {
	local sfx=$1 subj=$2
	shift 2
	start "in$sfx" "$BRIDGE" in "$NATS_URLS" "$subj" "shm:$TAG-dst$sfx" \
		-c --ring-size 64M --json -v --reconnect-wait-ms 50
	IN=$LAST
	start "out$sfx" "$BRIDGE" out "shm:$TAG-src$sfx" "$NATS_URLS" "$subj" \
		--json -v --reconnect-wait-ms 50 "$@"
	OUT=$LAST
	wait_line "$WORK/in$sfx.err" "bridging" 10 &&
		wait_line "$WORK/out$sfx.err" "bridging" 10 || return 1
	sleep 1		# the subscription reaches every node
}

# --- every payload, over the cluster ---
if bridge "" "$TAG.all"; then
	start verify "$CHECK" verify "shm:$TAG-dst" "$N" 600
	VERIFY=$LAST
	t0=$(date +%s.%N)
	"$CHECK" publish "shm:$TAG-src" "$N" "$BIG_EVERY" "$RATE"
	wait "$VERIFY"
	rc=$?
	t1=$(date +%s.%N)
	line=$(cat "$WORK/verify.out")
	echo "# $N messages (every $BIG_EVERY-th 1.5 MiB): $line, $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
	[ $rc -eq 0 ] && [ "$(field "$line" delivered)" = "$N" ]
	tap_result $? "$N messages through the cluster, every payload checked, none lost"
	stop "$OUT"; rc_out=$?
	stop "$IN"; rc_in=$?
	[ $rc_out -eq 0 ] && [ $rc_in -eq 0 ]
	tap_result $? "SIGTERM: both bridges exit 0"
	grep -q '"end":"signal"' "$WORK/out.out" && grep -q '"end":"signal"' "$WORK/in.out"
	tap_result $? "... and their summaries say so"
	sed 's/^/# out: /' "$WORK/out.out"; sed 's/^/# in: /' "$WORK/in.out"
	frag=$(json_field "$WORK/out.out" fragments)
	[ "${frag:-0}" -ge $((N / BIG_EVERY * 2)) ] &&
		[ "$(json_field "$WORK/in.out" messages)" = "$N" ]
	tap_result $? "large messages went in fragments ($frag), all came"
	packets=$(json_field "$WORK/out.out" packets)
	[ "${packets:-$N}" -lt $((N / 8)) ]
	tap_result $? "small messages were batched ($N messages in $packets packets)"
else
	tap_not_ok "the bridges connect"
	sed 's/^/#   /' "$WORK/in.err" "$WORK/out.err"
fi

# --- the node of each bridge dies mid-stream ---
"$CHECK" publish "shm:$TAG-src2" 0
if bridge 2 "$TAG.kill"; then
	node_out=$(nats_client_node_of_pid "$OUT" 5)
	node_in=$(nats_client_node_of_pid "$IN" 5)
	echo "# out is on node $node_out, in on node $node_in"
	start verify2 "$CHECK" verify "shm:$TAG-dst2" "$N" 600
	VERIFY=$LAST
	start publish2 "$CHECK" publish "shm:$TAG-src2" "$N" "$BIG_EVERY" "$RATE"
	PUB=$LAST
	sleep 3
	nats_node_kill "$node_out"
	echo "# killed node $node_out (out's) at 3 s"
	sleep 2
	nats_node_start "$node_out" >/dev/null 2>&1 || echo "# node $node_out did not come back"
	node_in=$(nats_client_node_of_pid "$IN" 5)
	nats_node_kill "$node_in"
	echo "# killed node $node_in (in's) at ~6 s"
	wait "$PUB"
	wait "$VERIFY"
	rc=$?
	line=$(cat "$WORK/verify2.out")
	echo "# $line"
	[ $rc -eq 0 ]
	tap_result $? "nodes killed mid-stream: delivered + lost = $N, each loss reported exactly where it happened"
	stop "$OUT"; stop "$IN"
	sed 's/^/# out: /' "$WORK/out2.out"; sed 's/^/# in: /' "$WORK/in2.out"
	[ "$(json_field "$WORK/out2.out" reconnects)" -ge 1 ] &&
		[ "$(json_field "$WORK/in2.out" reconnects)" -ge 1 ]
	tap_result $? "both bridges reconnected"
	[ "$(json_field "$WORK/in2.out" lost)" = "$(field "$line" lost)" ]
	tap_result $? "the in bridge counted what the ring's reader was told"
	nats_node_start "$node_in" >/dev/null 2>&1 || echo "# node $node_in did not come back"
else
	tap_not_ok "the bridges connect (node kill)"
fi

# --- a source ring that laps the bridge ---
"$TOOLS/bcastctl" create "shm:$TAG-src3" --size 64K >/dev/null
if bridge 3 "$TAG.lap" --flush-us 0; then
	start verify3 "$CHECK" verify "shm:$TAG-dst3" 200000 300
	VERIFY=$LAST
	"$CHECK" publish "shm:$TAG-src3" 200000
	wait "$VERIFY"
	rc=$?
	line=$(cat "$WORK/verify3.out")
	echo "# $line"
	stop "$OUT"; stop "$IN"
	out_lost=$(json_field "$WORK/out3.out" lost)
	[ $rc -eq 0 ] && [ "${out_lost:-0}" -gt 0 ] &&
		[ "$(field "$line" lost)" -ge "$out_lost" ]
	tap_result $? "the source lapped the bridge ($out_lost lost there): the destination's readers are told, exactly"
else
	tap_not_ok "the bridges connect (lapped source)"
fi

# --- writers come and go at the source ---
"$TOOLS/bcastctl" create "shm:$TAG-src4" >/dev/null
if bridge 4 "$TAG.epoch" --heartbeat-ms 100; then
	start sub4 "$TOOLS/bcast-sub" "shm:$TAG-dst4" -F -v --json -n 2000
	SUB=$LAST
	sleep 0.5
	"$TOOLS/bcast-pub" "shm:$TAG-src4" -n 1000 --size 64 -q
	sleep 1
	"$TOOLS/bcast-pub" "shm:$TAG-src4" -n 1000 --size 64 -q
	wait "$SUB"
	rc=$?
	stop "$OUT"; stop "$IN"
	gone=$(grep -c "writer gone" "$WORK/sub4.err")
	came=$(grep -c "new writer" "$WORK/sub4.err")
	echo "# bcast-sub: $(cat "$WORK/sub4.out"); $gone departures, $came arrivals"
	[ $rc -eq 0 ] && [ "$gone" -ge 1 ] && [ "$came" -ge 1 ] &&
		[ "$(json_field "$WORK/sub4.out" seq_gaps)" = 0 ] &&
		[ "$(json_field "$WORK/sub4.out" messages)" = 2000 ]
	tap_result $? "a writer leaving and a new one at the source: the same downstream"
else
	tap_not_ok "the bridges connect (writers)"
fi

nats_cluster_stop
left=0
for p in "${NATS_PORTS[@]}"; do nats_port_listening "$p" && left=1; done
[ $left -eq 0 ]
tap_result $? "the cluster is stopped, its ports closed"
tap_summary bridge
