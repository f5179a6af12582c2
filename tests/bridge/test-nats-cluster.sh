#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The tests of tests/bridge/nats-cluster.sh, as TAP: a 3-node core cluster
# (routes, a client's node, kill and restart of a node), a 3-node
# JetStream cluster (meta leader, an R3 stream, the leader killed and
# restarted), a single JetStream server, a start that fails, and nothing
# left running or listening at the end.  Last line: "N passed, N failed".
#
# Environment: NATS_TIMEOUT (readiness, default 30 s), KEEP=1 keeps the
# work directory (it is kept anyway when a test failed).
# shellcheck disable=SC2016,SC2119 # eval's single quotes are meant; tap_summary takes no label
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
. tests/bridge/nats-cluster.sh

echo "TAP version 13"

if ! _nats_server_bin >/dev/null; then
	install_packages test-nats-cluster nats-server || {
		tap_not_ok "nats-server is installed"
		tap_summary
		exit 1
	}
fi
echo "# $("$(_nats_server_bin)" --version 2>&1)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/test-nats-cluster.XXXXXX")
ALL_PORTS=()
CLIENT_PIDS=()

cleanup() {
	local rc=$? pid
	for pid in "${CLIENT_PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	nats_cluster_stop
	if [ "$TAP_FAILED" -eq 0 ] && [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$WORK"
	else
		echo "# logs kept in $WORK" >&2
	fi
	return "$rc"
}
trap cleanup EXIT

# ---- helpers ----

T0=
timer_start() { T0=$EPOCHREALTIME; }
# elapsed: seconds since timer_start, as "1.234s".
elapsed() {
	local a=${T0/[.,]/} b=${EPOCHREALTIME/[.,]/} d
	d=$(((b - a) / 1000))
	printf '%d.%03ds' $((d / 1000)) $((d % 1000))
}

# check DESCRIPTION CMD...: one TAP line for CMD, run in this shell (the
# library keeps its state in variables); lines of its output that start
# with "# " are passed on, all of it when it fails.
check() {
	local what=$1 rc=0
	shift
	"$@" >"$WORK/.out" 2>&1 || rc=$?
	tap_result "$rc" "$what"
	if [ "$rc" -ne 0 ]; then
		sed 's/^/#   /' "$WORK/.out"
	else
		grep '^# ' "$WORK/.out"
	fi
	return "$rc"
}

remember_ports() {
	ALL_PORTS+=("${NATS_PORTS[@]}" "${NATS_ROUTE_PORTS[@]}" "${NATS_HTTP_PORTS[@]}")
}

# routez K: node K's /routez.
routez() {
	nats_http_get "${NATS_HTTP_PORTS[$1 - 1]}" /routez
}

# server_id K: node K's server_id, from /varz.
server_id() {
	_nats_json_value "$(nats_http_get "${NATS_HTTP_PORTS[$1 - 1]}" /varz)" server_id
}

# routed K PEER...: node K has exactly one route to each PEER and no other.
routed() {
	local k=$1 body n p id
	shift
	body=$(routez "$k") || { echo "node $k: no /routez"; return 1; }
	n=$(_nats_json_value "$body" num_routes)
	if [ "$n" != $# ]; then
		echo "node $k: num_routes $n, want $#"
		return 1
	fi
	for p in "$@"; do
		id=$(server_id "$p")
		if [ "$(_nats_json_values "$body" remote_id | grep -cxF -- "$id")" != 1 ]; then
			echo "node $k: no single route to node $p ($id)"
			return 1
		fi
	done
}

all_routed() {
	routed 1 2 3 && routed 2 1 3 && routed 3 1 2
}

# listen_local_only PORT: PORT listens on 127.0.0.1 and on nothing else.
listen_local_only() {
	local p st raddr inode laddr ok=1
	while read -r p st raddr inode laddr; do
		{ [ "$p" = "$1" ] && [ "$st" = 0A ]; } || continue
		if [ "$laddr" = 0100007F ]; then
			ok=0
		else
			echo "port $1 also listens on $laddr"
			return 1
		fi
	done < <(_nats_tcp_sockets)
	[ "$ok" -eq 0 ] || echo "nothing listens on 127.0.0.1:$1"
	return "$ok"
}

all_local_only() {
	local p
	for p in "${NATS_PORTS[@]}" "${NATS_ROUTE_PORTS[@]}" "${NATS_HTTP_PORTS[@]}"; do
		listen_local_only "$p" || return 1
	done
}

none_listening() {
	local p bad=()
	for p in "$@"; do
		nats_port_listening "$p" && bad+=("$p")
	done
	[ "${#bad[@]}" -eq 0 ] || { echo "still listening: ${bad[*]}"; return 1; }
}

# servers_of_test: the pids of nats-server processes run from $WORK.
servers_of_test() {
	local d pid
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		_nats_pid_alive "$pid" || continue
		if grep -qF -- "$WORK/" < <(tr '\0' ' ' <"$d/cmdline" 2>/dev/null); then
			echo "$pid"
		fi
	done
	return 0
}

none_running() {
	local left
	left=$(servers_of_test)
	[ -z "$left" ] || { echo "nats-server still running: $left"; return 1; }
}

# start_client PORT: a raw NATS client (bash, then sleep, holding the
# socket) connected to 127.0.0.1:PORT; its pid in CLIENT_PID.
CLIENT_PID=
start_client() {
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'CONNECT {"verbose":false,"pedantic":false,"name":"test-client","lang":"bash","version":"1","protocol":1}\r\nPING\r\n' >&3
		exec sleep 120
	) </dev/null >/dev/null 2>&1 &
	CLIENT_PID=$!
	CLIENT_PIDS+=("$CLIENT_PID")
}

stop_client() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

all_dead() {
	local pid
	for pid in "$@"; do
		! _nats_pid_alive "$pid" || { echo "pid $pid is alive"; return 1; }
	done
}

# start_failed_ok STATUS MESSAGES: nats_cluster_start failed and said why.
start_failed_ok() {
	[ "$1" -ne 0 ] || { echo "nats_cluster_start succeeded"; return 1; }
	if ! grep -q "node 1 .*died; log: $WORK/bad/node1/log" <<<"$2" ||
	   ! grep -q "fake nats-server: cannot start" <<<"$2"; then
		echo "$2"
		return 1
	fi
}

expect_eq() {
	[ "$1" = "$2" ] || { echo "got '$1', want '$2'"; return 1; }
}

config_ok_core() {
	local k c
	for k in 1 2 3; do
		c=$NATS_DIR/node$k/nats.conf
		grep -qx "server_name: \"n$k\"" "$c" || { echo "$c: no server_name n$k"; return 1; }
		grep -q '^cluster {' "$c" || { echo "$c: no cluster block"; return 1; }
		[ "$(grep -c 'nats-route://127.0.0.1:' "$c")" = 2 ] || { echo "$c: not 2 routes"; return 1; }
		! grep -q jetstream "$c" || { echo "$c: has jetstream"; return 1; }
		[ -f "$NATS_DIR/node$k/log" ] || { echo "no $NATS_DIR/node$k/log"; return 1; }
		[ "$(cat "$NATS_DIR/node$k/pid")" = "${NATS_PIDS[k - 1]}" ] ||
			{ echo "node $k: pid file $(cat "$NATS_DIR/node$k/pid"), NATS_PIDS ${NATS_PIDS[k - 1]}"; return 1; }
	done
}

config_ok_js() {
	local k c
	for k in 1 2 3; do
		c=$NATS_DIR/node$k/nats.conf
		if ! grep -q "store_dir: \"$NATS_DIR/node$k/js\"" "$c" ||
		   ! grep -q "max_memory_store: 256MB" "$c" ||
		   ! grep -q "max_file_store: 1GB" "$c"; then
			echo "$c:"
			cat "$c"
			return 1
		fi
	done
}

urls_ok() {
	local want='' i
	[ "${#NATS_PORTS[@]}" = 3 ] || { echo "NATS_PORTS has ${#NATS_PORTS[@]} ports"; return 1; }
	for i in 0 1 2; do
		want+=${want:+,}nats://127.0.0.1:${NATS_PORTS[i]}
	done
	expect_eq "$NATS_URLS" "$want" || return 1
	[ "$(printf '%s\n' "${NATS_PORTS[@]}" "${NATS_ROUTE_PORTS[@]}" "${NATS_HTTP_PORTS[@]}" | sort -u | wc -l)" = 9 ] ||
		{ echo "ports not distinct"; return 1; }
	for i in 1 2 3; do
		expect_eq "$(nats_node_url "$i")" "nats://127.0.0.1:${NATS_PORTS[i - 1]}" || return 1
	done
}

node_of_port_ok() {
	local i
	for i in 1 2 3; do
		expect_eq "$(nats_node_of_port "${NATS_PORTS[i - 1]}")" "$i" || return 1
	done
	if nats_node_of_port 1 2>/dev/null; then
		echo "port 1 is a node's"
		return 1
	fi
}

node_gone() {
	local k=$1 pid=$2
	! _nats_pid_alive "$pid" || { echo "pid $pid alive"; return 1; }
	[ -z "${NATS_PIDS[k - 1]}" ] || { echo "NATS_PIDS[$((k - 1))] is ${NATS_PIDS[k - 1]}"; return 1; }
	none_listening "${NATS_PORTS[k - 1]}" "${NATS_HTTP_PORTS[k - 1]}" "${NATS_ROUTE_PORTS[k - 1]}"
}

# jsz_ok: every node names the same meta leader, cluster_size 3, and the
# leader lists the 2 others as current replicas: 3 peers.
jsz_ok() {
	local k body leader='' l size cur
	for k in 1 2 3; do
		body=$(nats_http_get "${NATS_HTTP_PORTS[k - 1]}" /jsz) || { echo "node $k: no /jsz"; return 1; }
		l=$(_nats_json_value "$body" leader)
		size=$(_nats_json_value "$body" cluster_size)
		[ -n "$l" ] || { echo "node $k: no meta leader"; return 1; }
		[ "$size" = 3 ] || { echo "node $k: cluster_size $size"; return 1; }
		[ -z "$leader" ] || [ "$l" = "$leader" ] || { echo "node $k: leader $l, not $leader"; return 1; }
		leader=$l
	done
	body=$(nats_http_get "${NATS_HTTP_PORTS[${leader#n} - 1]}" /jsz)
	cur=$(_nats_json_values "$body" current | grep -c '^true$')
	[ "$cur" = 2 ] || { echo "leader $leader: $cur current replicas: $body"; return 1; }
	echo "# meta leader $leader, 3 peers"
}

healthz_ok() {
	local k body
	for k in "$@"; do
		body=$(nats_http_get "${NATS_HTTP_PORTS[k - 1]}" /healthz) || { echo "node $k: $body"; return 1; }
		expect_eq "$body" '{"status":"ok"}' || return 1
	done
}

meta_leader() {
	_nats_json_value "$(nats_http_get "${NATS_HTTP_PORTS[$1 - 1]}" /jsz)" leader
}

# stream_r3 K: stream S, seen from node K, has a leader and 2 current
# replicas (waits up to 15 s for them to catch up).
stream_r3() {
	local k=$1 info end n
	end=$((SECONDS + 15))
	while :; do
		info=$(nats_js_api "$k" STREAM.INFO.S) || return 1
		n=$(_nats_json_values "$info" current | grep -c '^true$')
		if [ "$(_nats_json_value "$info" num_replicas)" = 3 ] && [ -n "$(_nats_json_value "$info" leader)" ] && [ "$n" = 2 ]; then
			return 0
		fi
		[ "$SECONDS" -lt "$end" ] || { echo "stream S from node $k: $info"; return 1; }
		sleep 0.5
	done
}

create_r3() {
	local reply
	reply=$(nats_js_api 1 STREAM.CREATE.S '{"name":"S","subjects":["s.>"],"storage":"file","num_replicas":3}') || return 1
	[[ $reply == *'"did_create":true'* ]] || { echo "$reply"; return 1; }
	[ "$(_nats_json_value "$reply" num_replicas)" = 3 ] || { echo "$reply"; return 1; }
	# two replicas besides the leader, a quorum current at once (the other
	# may still be catching up by one entry)
	[ "$(_nats_json_values "$reply" current | wc -l)" = 2 ] &&
		[ "$(_nats_json_values "$reply" current | grep -c '^true$')" -ge 1 ] ||
		{ echo "replicas: $reply"; return 1; }
	echo "# stream leader $(_nats_json_value "$reply" leader)"
}

publish_ok() {
	local k=$1 seq=$2 reply
	reply=$(nats_request "${NATS_PORTS[k - 1]}" s.test "hello $seq") || return 1
	expect_eq "$reply" "{\"stream\":\"S\", \"seq\":$seq}"
}

messages_are() {
	local k=$1 want=$2 info
	info=$(nats_js_api "$k" STREAM.INFO.S) || return 1
	expect_eq "$(_nats_json_value "$info" messages)" "$want"
}

# ---- a 3-node core cluster ----

timer_start
check "start a 3-node core cluster" nats_cluster_start "$WORK/core" 3
echo "# started in $(elapsed): $NATS_URLS"
remember_ports
check "NATS_URLS, NATS_PORTS and nats_node_url agree, 9 distinct ports" urls_ok
check "each node's config: server_name nK, a cluster with 2 routes, no JetStream; pid file" config_ok_core
check "client, route and monitoring ports listen on 127.0.0.1 only" all_local_only
check "every node has one route to each of the 2 others" all_routed
check "nats_node_of_port maps each client port to its node, fails on others" node_of_port_ok

start_client "${NATS_PORTS[1]}"
C2=$CLIENT_PID
start_client "${NATS_PORTS[2]}"
C3=$CLIENT_PID
check "nats_client_node_of_pid finds a client of node 2" expect_eq "$(nats_client_node_of_pid "$C2" 10)" 2
check "nats_client_node_of_pid finds a client of node 3" expect_eq "$(nats_client_node_of_pid "$C3" 10)" 3
stop_client "$C3"

pid2=${NATS_PIDS[1]}
timer_start
check "nats_node_kill 2" nats_node_kill 2
echo "# killed in $(elapsed)"
check "node 2 is gone, its ports are free" node_gone 2 "$pid2"
check "nodes 1 and 3 are routed to each other only" eval 'routed 1 3 && routed 3 1'
check "nats_node_url and nats_node_of_port still know node 2" expect_eq "$(nats_node_of_port "${NATS_PORTS[1]}")" 2
check "the client of node 2 is no longer connected to any node" eval "! nats_client_node_of_pid $C2 2>/dev/null"
stop_client "$C2"
check "nats_node_start 1 (running) fails" eval '! nats_node_start 1 2>/dev/null'
check "nats_node_kill 7 (no such node) fails" eval '! nats_node_kill 7 2>/dev/null'

timer_start
check "nats_node_start 2" nats_node_start 2
echo "# restarted and routed in $(elapsed)"
check "node 2 is back on the same client port with a new pid" eval '[ "${NATS_PIDS[1]}" != "$pid2" ] && listen_local_only "${NATS_PORTS[1]}" && healthz_ok 2'
check "every node is routed to the 2 others again" all_routed

pids=("${NATS_PIDS[@]}")
timer_start
check "nats_cluster_stop" nats_cluster_stop
echo "# stopped in $(elapsed)"
check "no server of the core cluster is left" all_dead "${pids[@]}"
check "nothing listens on the core cluster's ports" none_listening "${ALL_PORTS[@]}"
check "nats_cluster_stop again is a no-op" nats_cluster_stop

# ---- a 3-node JetStream cluster ----

timer_start
check "start a 3-node JetStream cluster" nats_cluster_start "$WORK/js" 3 --jetstream
echo "# started in $(elapsed): $NATS_URLS"
remember_ports
check "each node's config has the jetstream block" config_ok_js
check "client, route and monitoring ports listen on 127.0.0.1 only" all_local_only
check "every node has one route to each of the 2 others" all_routed
check "/healthz is ok on every node" healthz_ok 1 2 3
check "/jsz: one meta leader for all, cluster_size 3, 3 current peers" jsz_ok
timer_start
check "an R3 stream can be created at once" create_r3
echo "# created in $(elapsed)"
check "a message published through node 3 is stored (seq 1)" publish_ok 3 1
check "node 2 sees the stream with 1 message" messages_are 2 1

leader=$(meta_leader 1)
lk=${leader#n}
others=()
for k in 1 2 3; do [ "$k" = "$lk" ] || others+=("$k"); done
echo "# meta leader is node $lk"
timer_start
check "kill the meta leader (node $lk)" nats_node_kill "$lk"
check "the other two elect a new meta leader" nats_cluster_wait_ready
echo "# new leader in $(elapsed)"
check "the new meta leader is one of nodes ${others[*]}" eval 'l=$(meta_leader ${others[0]}); [ "$l" = "n${others[0]}" ] || [ "$l" = "n${others[1]}" ]'
check "the stream takes a message with a node down (seq 2)" publish_ok "${others[0]}" 2
timer_start
check "restart node $lk" nats_node_start "$lk"
echo "# restarted and ready in $(elapsed)"
check "/jsz: one meta leader, 3 current peers again" jsz_ok
check "the stream has 3 current replicas again" stream_r3 "$lk"
check "node $lk caught up: 2 messages" messages_are "$lk" 2

pids=("${NATS_PIDS[@]}")
timer_start
check "nats_cluster_stop (JetStream)" nats_cluster_stop
echo "# stopped in $(elapsed)"
check "no server of the JetStream cluster is left" all_dead "${pids[@]}"

# ---- a single JetStream server ----

timer_start
check "start a single JetStream server (N=1)" nats_cluster_start "$WORK/one" 1 --jetstream
echo "# started in $(elapsed): $NATS_URLS"
remember_ports
check "N=1: no cluster block, no routes, one URL" eval '! grep -q "^cluster" "$NATS_DIR/node1/nats.conf" && [ "$(_nats_json_value "$(routez 1)" num_routes)" = 0 ] && [ "$NATS_URLS" = "nats://127.0.0.1:${NATS_PORTS[0]}" ]'
check "N=1: an R1 stream, a message" eval 'nats_js_api 1 STREAM.CREATE.S "{\"name\":\"S\",\"subjects\":[\"s.>\"]}" >/dev/null && publish_ok 1 1'
check "nats_cluster_stop (N=1)" nats_cluster_stop

# ---- failures ----

fake=$WORK/fake/nats-server
mkdir -p "${fake%/*}"
printf '#!/bin/sh\necho "fake nats-server: cannot start" >&2\nexit 1\n' >"$fake"
chmod +x "$fake"
timer_start
err=$(NATS_SERVER=$fake nats_cluster_start "$WORK/bad" 2 2>&1)
start_rc=$?
echo "# failed in $(elapsed)"
check "a start whose server dies fails at once, naming the node and its log" \
	start_failed_ok "$start_rc" "$err"
printf '#   %s\n' "${err%%$'\n'*}"
check "nats_cluster_start with an unknown option fails" eval '! nats_cluster_start "$WORK/bad" 3 --bogus 2>/dev/null'

# ---- nothing left ----

check "no nats-server started by the test is left" none_running
check "nothing listens on any port the clusters used (${#ALL_PORTS[@]} ports)" none_listening "${ALL_PORTS[@]}"

tap_plan "$TAP_N"
tap_summary
