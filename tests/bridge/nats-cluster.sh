# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# A local NATS cluster for the bridge tests, with Debian's nats-server
# (2.9).  Source it (". tests/bridge/nats-cluster.sh") and call the
# functions from the test's own shell, not from $(...): they keep the
# cluster's state in shell variables.  Safe under "set -u" (and "set -e");
# needs only bash, awk and nats-server: HTTP and the NATS protocol are
# spoken through bash's /dev/tcp, JSON is read with grep and sed.
#
# Everything listens on 127.0.0.1 only.  One cluster at a time per shell.
#
#   nats_cluster_start DIR N [--jetstream]   start N nodes, wait until ready
#   nats_cluster_stop                        TERM, then KILL after 5 s; idempotent
#   nats_cluster_wait_ready [TIMEOUT]        wait until the running nodes are ready
#   nats_node_start K                        restart node K (same config, ports)
#   nats_node_kill K                         SIGKILL node K and wait until it is gone
#   nats_node_url K                          print nats://127.0.0.1:PORT of node K
#   nats_node_pid K                          print the pid of node K (fails if down)
#   nats_node_log K                          print the path of node K's log
#   nats_node_of_port PORT                   print K whose client port is PORT
#   nats_client_node_of_pid PID [TIMEOUT]    print K that process PID is connected to
#   nats_http_get PORT PATH                  GET http://127.0.0.1:PORT/PATH, print the body
#   nats_request PORT SUBJECT PAYLOAD [TIMEOUT]  NATS request, print the reply
#   nats_js_api K API [PAYLOAD]              request $JS.API.API on node K, print the reply
#   nats_port_listening PORT                 is anything listening on TCP PORT?
#
# After nats_cluster_start: NATS_DIR, NATS_N, NATS_JETSTREAM (0 or 1),
# NATS_CLUSTER_NAME, NATS_URLS ("nats://127.0.0.1:P1,nats://...", every
# node), and the arrays NATS_PORTS (client ports), NATS_ROUTE_PORTS,
# NATS_HTTP_PORTS (monitoring) and NATS_PIDS ("" while a node is down),
# all indexed K-1: node K's client port is ${NATS_PORTS[K-1]}.
#
# Node K lives in DIR/nodeK/: nats.conf, log (the server's log and its
# stdout and stderr), pid, js/ (the JetStream store).  The server names
# are n1..nN, which is what /jsz and the JetStream API report.
#
# Environment: NATS_SERVER (default: nats-server in PATH, else
# /usr/sbin/nats-server), NATS_TIMEOUT (seconds to wait for readiness,
# default 30).

# State that survives sourcing the file twice (an EXIT trap may rely on it).
[ -n "${NATS_DIR+x}" ] || NATS_DIR=
[ -n "${NATS_N+x}" ] || NATS_N=0
[ -n "${NATS_JETSTREAM+x}" ] || NATS_JETSTREAM=0
[ -n "${NATS_CLUSTER_NAME+x}" ] || NATS_CLUSTER_NAME=
[ -n "${NATS_URLS+x}" ] || NATS_URLS=
declare -p NATS_PORTS >/dev/null 2>&1 || NATS_PORTS=()
declare -p NATS_ROUTE_PORTS >/dev/null 2>&1 || NATS_ROUTE_PORTS=()
declare -p NATS_HTTP_PORTS >/dev/null 2>&1 || NATS_HTTP_PORTS=()
declare -p NATS_PIDS >/dev/null 2>&1 || NATS_PIDS=()
# Why the last readiness check failed (for the error messages).
_NATS_NOT_READY=
_NATS_NOT_READY_NODE=0

# ---- small helpers ----

_nats_err() {
	echo "$*" >&2
}

# _nats_log_tail FILE: the end of a log, indented, on stderr.
_nats_log_tail() {
	if [ -f "$1" ]; then
		echo "--- last lines of $1:" >&2
		tail -n 20 "$1" | sed 's/^/    /' >&2
	else
		echo "--- no log at $1" >&2
	fi
}

_nats_now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}

_nats_server_bin() {
	if [ -n "${NATS_SERVER:-}" ]; then
		echo "$NATS_SERVER"
	elif command -v nats-server >/dev/null 2>&1; then
		command -v nats-server
	elif [ -x /usr/sbin/nats-server ]; then
		echo /usr/sbin/nats-server
	else
		return 1
	fi
}

# _nats_check_node FUNC K: is K a node number of the cluster?
_nats_check_node() {
	local func=$1 k=${2:-}
	if [ "$NATS_N" -eq 0 ]; then
		_nats_err "$func: no cluster was started (call nats_cluster_start first)"
		return 1
	fi
	if ! [[ $k =~ ^[0-9]+$ ]] || [ "$k" -lt 1 ] || [ "$k" -gt "$NATS_N" ]; then
		_nats_err "$func: no node '$k' in the cluster in $NATS_DIR (nodes 1..$NATS_N)"
		return 1
	fi
}

# _nats_pid_alive PID: is PID a live (not zombie) nats-server?
_nats_pid_alive() {
	local pid=${1:-} stat comm
	[ -n "$pid" ] || return 1
	[ -r "/proc/$pid/stat" ] || return 1
	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	# pid (comm) STATE ...: comm may hold spaces and parentheses.
	comm=${stat#*(}
	comm=${comm%)*}
	stat=${stat##*) }
	[ "${stat%% *}" != Z ] || return 1
	[ "$comm" = nats-server ]
}

# _nats_wait_dead PID SECONDS: wait until PID is gone; fails on timeout.
_nats_wait_dead() {
	local pid=$1 end
	end=$(($(_nats_now_ms) + $2 * 1000))
	while _nats_pid_alive "$pid"; do
		[ "$(_nats_now_ms)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# _nats_tcp_sockets: "LOCALPORT STATE REMOTEADDR:REMOTEPORT INODE LOCALADDR"
# for every TCP socket (IPv4 and IPv6), ports in decimal, addresses in
# /proc's hex.  STATE is /proc's: 01 established, 0A listen.
_nats_tcp_sockets() {
	awk 'function hex(s,  i, n) {
		n = 0
		for (i = 1; i <= length(s); i++)
			n = n * 16 + index("0123456789ABCDEF", toupper(substr(s, i, 1))) - 1
		return n
	}
	FNR > 1 {
		split($2, l, ":"); split($3, r, ":")
		printf "%d %s %s:%d %s %s\n", hex(l[2]), $4, r[1], hex(r[2]), $10, l[1]
	}' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# nats_port_listening PORT: is anything listening on TCP port PORT (any
# address)?
nats_port_listening() {
	local port=${1:?nats_port_listening: PORT missing} p st rest
	while read -r p st rest; do
		[ "$p" = "$port" ] && [ "$st" = 0A ] && return 0
	done < <(_nats_tcp_sockets)
	return 1
}

# _nats_pick_ports COUNT: print COUNT distinct free TCP ports in 20000-60000,
# avoiding the kernel's ephemeral range (where outgoing connections take
# their local ports) when that leaves enough room.
_nats_pick_ports() {
	local count=$1 lo=20000 hi=60000 elo ehi p st rest tries=0
	local -A used=()
	local -a picked=()
	if read -r elo ehi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null; then
		if [ "$elo" -gt $((lo + 2000)) ] && [ "$elo" -le "$hi" ]; then
			hi=$((elo - 1))
		elif [ "$ehi" -lt $((hi - 2000)) ] && [ "$ehi" -ge "$lo" ]; then
			lo=$((ehi + 1))
		fi
	fi
	while read -r p st rest; do
		used[$p]=1
	done < <(_nats_tcp_sockets)
	while [ "${#picked[@]}" -lt "$count" ]; do
		tries=$((tries + 1))
		if [ "$tries" -gt 10000 ]; then
			_nats_err "nats_cluster_start: found no $count free ports in $lo-$hi"
			return 1
		fi
		p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
		[ -z "${used[$p]:-}" ] || continue
		# Nothing answers there either (a listener in another namespace
		# view would not show in /proc/net/tcp).
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			used[$p]=1
			continue
		fi
		used[$p]=1
		picked+=("$p")
	done
	echo "${picked[*]}"
}

# ---- HTTP and JSON ----

# nats_http_get PORT PATH: GET http://127.0.0.1:PORT/PATH with bash's
# /dev/tcp; prints the body.  Exit status: 0 for HTTP 200, 22 for another
# HTTP status (the body is printed all the same, e.g. /healthz's error),
# 7 if nothing answers, 28 on a timeout (5 s a line), like curl's.
nats_http_get() {
	local port=${1:?nats_http_get: PORT missing} path=${2:-/} fd line status body='' n=0
	[[ $path == /* ]] || path=/$path
	if ! { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
		return 7
	fi
	# In a subshell: a write to a connection the server closed raises
	# SIGPIPE, which must not kill the caller.
	(printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\nUser-Agent: nats-cluster.sh\r\nConnection: close\r\n\r\n' \
		"$path" "$port" 1>&"$fd") 2>/dev/null
	if ! IFS= read -r -t 5 -u "$fd" line; then
		exec {fd}>&-
		return 28
	fi
	line=${line%$'\r'}
	status=${line#HTTP/* }
	status=${status%% *}
	# The headers, up to the empty line.
	while IFS= read -r -t 5 -u "$fd" line; do
		line=${line%$'\r'}
		[ -n "$line" ] || break
	done
	# The body, to the end (its last line may have no newline).
	while IFS= read -r -t 5 -u "$fd" line || [ -n "$line" ]; do
		if [ "$n" -gt 0 ]; then
			body+=$'\n'
		fi
		body+=$line
		n=$((n + 1))
		line=
	done
	exec {fd}>&-
	printf '%s\n' "$body"
	[ "$status" = 200 ] && return 0
	[[ $status =~ ^[0-9]+$ ]] && return 22
	return 28
}

# _nats_json_values JSON FIELD: the values of every "FIELD": in JSON, one
# a line, strings without their quotes.  Enough for nats-server's
# monitoring output, where the fields read here are unambiguous.
_nats_json_values() {
	grep -o "\"$2\": *\(\"[^\"]*\"\|[^,}[:space:]]*\)" <<<"$1" |
		sed -e 's/^"[^"]*": *//' -e 's/^"\(.*\)"$/\1/'
}

# _nats_json_value JSON FIELD: the first value of FIELD ("" if none).
_nats_json_value() {
	local v
	v=$(_nats_json_values "$1" "$2")
	echo "${v%%$'\n'*}"
}

# ---- configuration and processes ----

# _nats_write_config K: DIR/nodeK/nats.conf from the ports chosen.
_nats_write_config() {
	local k=$1 i=$(($1 - 1)) j d="$NATS_DIR/node$1" conf
	conf="$d/nats.conf"
	{
		echo "# node $k of a test cluster, written by tests/bridge/nats-cluster.sh"
		echo "server_name: \"n$k\""
		echo "listen: \"127.0.0.1:${NATS_PORTS[i]}\""
		echo "http: \"127.0.0.1:${NATS_HTTP_PORTS[i]}\""
		echo "pid_file: \"$d/pid\""
		echo "log_file: \"$d/log\""
		echo "logtime: true"
		if [ "$NATS_N" -gt 1 ]; then
			echo "cluster {"
			echo "  name: \"$NATS_CLUSTER_NAME\""
			echo "  listen: \"127.0.0.1:${NATS_ROUTE_PORTS[i]}\""
			echo "  routes: ["
			for ((j = 0; j < NATS_N; j++)); do
				[ "$j" -eq "$i" ] && continue
				echo "    \"nats-route://127.0.0.1:${NATS_ROUTE_PORTS[j]}\""
			done
			echo "  ]"
			echo "}"
		fi
		if [ "$NATS_JETSTREAM" = 1 ]; then
			echo "jetstream {"
			echo "  store_dir: \"$d/js\""
			echo "  max_memory_store: 256MB"
			echo "  max_file_store: 1GB"
			echo "}"
		fi
	} >"$conf"
}

# _nats_spawn K: start node K's server in the background (not a child of
# this shell, so no job notices and no zombies: init reaps it).  It stays
# in this shell's process group, so a timeout(1) around the test kills it.
_nats_spawn() {
	local k=$1 d="$NATS_DIR/node$1" bin pid
	bin=$(_nats_server_bin) || {
		_nats_err "nats_cluster_start: nats-server not found (apt-get install -y nats-server)"
		return 1
	}
	echo "=== $(date '+%Y/%m/%d %H:%M:%S') nats-cluster.sh: starting node $k: $bin -c $d/nats.conf" >>"$d/log"
	pid=$(cd "$d" && { "$bin" -c "$d/nats.conf" </dev/null >>"$d/log" 2>&1 & echo $!; })
	NATS_PIDS[k - 1]=$pid
}

# _nats_bind_failed K SINCE: did node K's log, from line SINCE on, say that
# a port was taken?
_nats_bind_failed() {
	grep -qi 'address already in use' < <(tail -n "+$2" "$NATS_DIR/node$1/log" 2>/dev/null)
}

_nats_log_lines() {
	local n
	n=$(wc -l <"$NATS_DIR/node$1/log" 2>/dev/null) || n=0
	echo $((n + 1))
}

# ---- readiness ----

# _nats_check_ready: are all the running nodes healthy, routed to each
# other and (with JetStream) agreed on a meta leader?  Sets _NATS_NOT_READY
# to why not.
_nats_check_ready() {
	local i j k up=() ids=() body rids want n leader leaders='' size cur
	_NATS_NOT_READY=
	_NATS_NOT_READY_NODE=0
	for ((i = 0; i < NATS_N; i++)); do
		[ -n "${NATS_PIDS[i]:-}" ] && up+=("$i")
	done
	for i in "${up[@]}"; do
		k=$((i + 1))
		_NATS_NOT_READY_NODE=$k
		if ! _nats_pid_alive "${NATS_PIDS[i]}"; then
			_NATS_NOT_READY="node $k (pid ${NATS_PIDS[i]}) died"
			return 2
		fi
		# /healthz: 200 {"status":"ok"}.  With JetStream it also fails
		# (503) until the server is in contact with a meta leader and
		# its streams are current.
		if ! body=$(nats_http_get "${NATS_HTTP_PORTS[i]}" /healthz); then
			_NATS_NOT_READY="node $k: /healthz on 127.0.0.1:${NATS_HTTP_PORTS[i]} says: ${body:-no answer}"
			return 1
		fi
		if [ "$(_nats_json_value "$body" status)" != ok ]; then
			_NATS_NOT_READY="node $k: /healthz says: $body"
			return 1
		fi
	done
	if [ "$NATS_N" -gt 1 ]; then
		# Every running node has one route to each of the other running
		# nodes: /routez's num_routes and its routes' remote_id against
		# the others' server_id (new at every start of a server).
		local -A routez=()
		for i in "${up[@]}"; do
			k=$((i + 1))
			_NATS_NOT_READY_NODE=$k
			if ! body=$(nats_http_get "${NATS_HTTP_PORTS[i]}" /routez); then
				_NATS_NOT_READY="node $k: no /routez on 127.0.0.1:${NATS_HTTP_PORTS[i]}"
				return 1
			fi
			routez[$i]=$body
			ids[i]=$(_nats_json_value "$body" server_id)
		done
		want=$((${#up[@]} - 1))
		for i in "${up[@]}"; do
			k=$((i + 1))
			_NATS_NOT_READY_NODE=$k
			n=$(_nats_json_value "${routez[$i]}" num_routes)
			rids=$(_nats_json_values "${routez[$i]}" remote_id | sort -u)
			if [ "$n" != "$want" ]; then
				_NATS_NOT_READY="node $k: /routez shows ${n:-no} routes, want $want"
				return 1
			fi
			for j in "${up[@]}"; do
				[ "$j" = "$i" ] && continue
				if ! grep -qxF -- "${ids[j]}" <<<"$rids"; then
					_NATS_NOT_READY="node $k: no route to node $((j + 1)) (${ids[j]}) in /routez"
					return 1
				fi
			done
		done
	fi
	if [ "$NATS_JETSTREAM" = 1 ] && [ "$NATS_N" -gt 1 ]; then
		# /jsz's meta_cluster: every running node names the same
		# leader, cluster_size is N, and the leader sees the others as
		# current replicas.
		for i in "${up[@]}"; do
			k=$((i + 1))
			_NATS_NOT_READY_NODE=$k
			if ! body=$(nats_http_get "${NATS_HTTP_PORTS[i]}" /jsz); then
				_NATS_NOT_READY="node $k: no /jsz on 127.0.0.1:${NATS_HTTP_PORTS[i]}"
				return 1
			fi
			leader=$(_nats_json_value "$body" leader)
			size=$(_nats_json_value "$body" cluster_size)
			if [ -z "$leader" ]; then
				_NATS_NOT_READY="node $k: /jsz shows no JetStream meta leader"
				return 1
			fi
			if [ "$size" != "$NATS_N" ]; then
				_NATS_NOT_READY="node $k: /jsz meta_cluster.cluster_size is ${size:-missing}, want $NATS_N"
				return 1
			fi
			if [ -n "$leaders" ] && [ "$leader" != "$leaders" ]; then
				_NATS_NOT_READY="node $k: /jsz meta leader is $leader, another node says $leaders"
				return 1
			fi
			leaders=$leader
			if [ "$leader" = "n$k" ]; then
				cur=$(_nats_json_values "$body" current | grep -c '^true$')
				if [ "$cur" -lt "$want" ]; then
					_NATS_NOT_READY="node $k: the meta leader has $cur current peers, want $want"
					return 1
				fi
			fi
		done
		k=${leaders#n}
		if ! [[ $k =~ ^[0-9]+$ ]] || [ -z "${NATS_PIDS[k - 1]:-}" ]; then
			_NATS_NOT_READY="the meta leader '$leaders' is not a running node"
			return 1
		fi
	fi
	_NATS_NOT_READY_NODE=0
	return 0
}

# nats_cluster_wait_ready [TIMEOUT]: wait (default NATS_TIMEOUT, 30 s)
# until every running node is healthy, routed to every other running node
# and, with JetStream, agrees on a meta leader.  Fails with the reason and
# the log tail.  Status 2: a node died (its log tells why).
nats_cluster_wait_ready() {
	local timeout=${1:-${NATS_TIMEOUT:-30}} end rc k
	if [ "$NATS_N" -eq 0 ]; then
		_nats_err "nats_cluster_wait_ready: no cluster was started"
		return 1
	fi
	end=$(($(_nats_now_ms) + timeout * 1000))
	while :; do
		rc=0
		_nats_check_ready || rc=$?
		[ "$rc" -eq 0 ] && return 0
		[ "$rc" -eq 2 ] && break
		[ "$(_nats_now_ms)" -lt "$end" ] || break
		sleep 0.2
	done
	k=$_NATS_NOT_READY_NODE
	if [ "$rc" -eq 2 ]; then
		_nats_err "nats_cluster_wait_ready: $_NATS_NOT_READY; log: $NATS_DIR/node$k/log"
	else
		if [ "$k" -gt 0 ]; then
			_nats_err "nats_cluster_wait_ready: cluster in $NATS_DIR not ready after ${timeout}s: $_NATS_NOT_READY; log: $NATS_DIR/node$k/log"
		else
			_nats_err "nats_cluster_wait_ready: cluster in $NATS_DIR not ready after ${timeout}s: $_NATS_NOT_READY; logs: $NATS_DIR/node*/log"
		fi
	fi
	if [ "$k" -gt 0 ]; then
		_nats_log_tail "$NATS_DIR/node$k/log"
	fi
	return "$rc"
}

# ---- the cluster ----

# nats_cluster_start DIR N [--jetstream]: start N nodes under DIR (nodeK/
# is made anew for each) and wait until they are ready; retries with other
# ports if one was taken.  Sets NATS_DIR, NATS_N, NATS_JETSTREAM,
# NATS_CLUSTER_NAME, NATS_URLS, NATS_PORTS, NATS_ROUTE_PORTS,
# NATS_HTTP_PORTS, NATS_PIDS.
nats_cluster_start() {
	local dir=${1:-} n=${2:-} js=0 arg i k attempt ports rc bindfail urls=
	if [ -z "$dir" ] || [ -z "$n" ]; then
		_nats_err "usage: nats_cluster_start DIR N [--jetstream]"
		return 1
	fi
	shift 2
	for arg in "$@"; do
		case $arg in
		--jetstream | -js) js=1 ;;
		*)
			_nats_err "nats_cluster_start: unknown option '$arg' (usage: nats_cluster_start DIR N [--jetstream])"
			return 1
			;;
		esac
	done
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ] || [ "$n" -gt 9 ]; then
		_nats_err "nats_cluster_start: N must be 1..9, not '$n'"
		return 1
	fi
	for ((i = 0; i < ${#NATS_PIDS[@]}; i++)); do
		if _nats_pid_alive "${NATS_PIDS[i]:-}"; then
			_nats_err "nats_cluster_start: a cluster is already running in $NATS_DIR (node $((i + 1)), pid ${NATS_PIDS[i]}); call nats_cluster_stop first"
			return 1
		fi
	done
	if ! _nats_server_bin >/dev/null; then
		_nats_err "nats_cluster_start: nats-server not found in PATH or /usr/sbin (apt-get install -y nats-server)"
		return 1
	fi
	if ! mkdir -p "$dir" || ! dir=$(cd "$dir" && pwd -P); then
		_nats_err "nats_cluster_start: cannot make the directory '$dir'"
		return 1
	fi
	if [[ $dir == *[\"\\\$]* ]]; then
		_nats_err "nats_cluster_start: DIR '$dir' has a quote, backslash or \$ that nats.conf cannot hold"
		return 1
	fi
	NATS_DIR=$dir
	NATS_N=$n
	NATS_JETSTREAM=$js
	NATS_CLUSTER_NAME=bcast-test-$$
	for attempt in 1 2 3; do
		ports=$(_nats_pick_ports $((3 * n))) || return 1
		read -r -a ports <<<"$ports"
		NATS_PORTS=("${ports[@]:0:n}")
		NATS_ROUTE_PORTS=("${ports[@]:n:n}")
		NATS_HTTP_PORTS=("${ports[@]:2*n:n}")
		NATS_PIDS=()
		for ((k = 1; k <= n; k++)); do
			rm -rf "$dir/node$k"
			if ! mkdir -p "$dir/node$k/js"; then
				_nats_err "nats_cluster_start: cannot make $dir/node$k"
				return 1
			fi
			_nats_write_config "$k"
		done
		for ((k = 1; k <= n; k++)); do
			if ! _nats_spawn "$k"; then
				nats_cluster_stop
				return 1
			fi
		done
		rc=0
		nats_cluster_wait_ready "${NATS_TIMEOUT:-30}" 2>"$dir/.wait-errors" || rc=$?
		if [ "$rc" -eq 0 ]; then
			rm -f "$dir/.wait-errors"
			break
		fi
		bindfail=0
		for ((k = 1; k <= n; k++)); do
			_nats_bind_failed "$k" 1 && bindfail=1
		done
		nats_cluster_stop
		if [ "$bindfail" -eq 1 ] && [ "$attempt" -lt 3 ]; then
			echo "nats_cluster_start: a port was taken (attempt $attempt), trying other ports" >&2
			rm -f "$dir/.wait-errors"
			continue
		fi
		sed 's/^nats_cluster_wait_ready:/nats_cluster_start:/' "$dir/.wait-errors" >&2
		rm -f "$dir/.wait-errors"
		return 1
	done
	for ((i = 0; i < n; i++)); do
		urls+=${urls:+,}nats://127.0.0.1:${NATS_PORTS[i]}
	done
	NATS_URLS=$urls
	return 0
}

# nats_cluster_stop: TERM every node, KILL those still there after 5 s,
# wait until all are gone.  Idempotent; safe in an EXIT trap (it keeps $?).
nats_cluster_stop() {
	local rc=$? i pid pids=() f end
	# The pids this shell knows, else those in the pid files.
	for ((i = 0; i < ${#NATS_PIDS[@]}; i++)); do
		pid=${NATS_PIDS[i]:-}
		_nats_pid_alive "$pid" && pids+=("$pid")
	done
	if [ -n "$NATS_DIR" ] && [ "${#pids[@]}" -eq 0 ]; then
		for f in "$NATS_DIR"/node*/pid; do
			[ -f "$f" ] || continue
			pid=$(cat "$f" 2>/dev/null) || continue
			# Only a server started with this cluster's config.
			if _nats_pid_alive "$pid" &&
			   grep -qF -- "${f%/pid}/nats.conf" < <(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null); then
				pids+=("$pid")
			fi
		done
	fi
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	end=$(($(_nats_now_ms) + 5000))
	for pid in "${pids[@]}"; do
		while _nats_pid_alive "$pid" && [ "$(_nats_now_ms)" -lt "$end" ]; do
			sleep 0.05
		done
	done
	for pid in "${pids[@]}"; do
		if _nats_pid_alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	for pid in "${pids[@]}"; do
		if ! _nats_wait_dead "$pid" 10; then
			_nats_err "nats_cluster_stop: nats-server pid $pid did not die after SIGKILL (logs: $NATS_DIR/node*/log)"
		fi
	done
	for ((i = 0; i < ${#NATS_PIDS[@]}; i++)); do
		NATS_PIDS[i]=
	done
	return "$rc"
}

# ---- nodes ----

nats_node_url() {
	_nats_check_node nats_node_url "${1:-}" || return 1
	echo "nats://127.0.0.1:${NATS_PORTS[$1 - 1]}"
}

nats_node_pid() {
	_nats_check_node nats_node_pid "${1:-}" || return 1
	if ! _nats_pid_alive "${NATS_PIDS[$1 - 1]:-}"; then
		_nats_err "nats_node_pid: node $1 is not running (log: $NATS_DIR/node$1/log)"
		return 1
	fi
	echo "${NATS_PIDS[$1 - 1]}"
}

nats_node_log() {
	_nats_check_node nats_node_log "${1:-}" || return 1
	echo "$NATS_DIR/node$1/log"
}

# nats_node_of_port PORT: the node whose client port is PORT.
nats_node_of_port() {
	local port=${1:-} i
	for ((i = 0; i < NATS_N; i++)); do
		if [ "${NATS_PORTS[i]}" = "$port" ]; then
			echo $((i + 1))
			return 0
		fi
	done
	_nats_err "nats_node_of_port: no node of the cluster in ${NATS_DIR:-(none)} has client port '$port' (ports: ${NATS_PORTS[*]:-none})"
	return 1
}

# nats_node_kill K: SIGKILL node K and wait until it is gone.
nats_node_kill() {
	local k=${1:-} pid
	_nats_check_node nats_node_kill "$k" || return 1
	pid=${NATS_PIDS[k - 1]:-}
	if ! _nats_pid_alive "$pid"; then
		_nats_err "nats_node_kill: node $k is not running (log: $NATS_DIR/node$k/log)"
		NATS_PIDS[k - 1]=
		return 1
	fi
	kill -KILL "$pid" 2>/dev/null || true
	if ! _nats_wait_dead "$pid" 10; then
		_nats_err "nats_node_kill: node $k (pid $pid) still alive 10 s after SIGKILL (log: $NATS_DIR/node$k/log)"
		return 1
	fi
	NATS_PIDS[k - 1]=
	echo "=== $(date '+%Y/%m/%d %H:%M:%S') nats-cluster.sh: node $k (pid $pid) killed" >>"$NATS_DIR/node$k/log"
}

# nats_node_start K: start node K again with its config and ports (its
# JetStream store is kept), then wait until the running nodes are all
# ready again (healthy, routed, JetStream leader).
nats_node_start() {
	local k=${1:-} since attempt rc
	_nats_check_node nats_node_start "$k" || return 1
	if _nats_pid_alive "${NATS_PIDS[k - 1]:-}"; then
		_nats_err "nats_node_start: node $k is already running (pid ${NATS_PIDS[k - 1]}; log: $NATS_DIR/node$k/log)"
		return 1
	fi
	for attempt in 1 2 3; do
		since=$(_nats_log_lines "$k")
		_nats_spawn "$k" || return 1
		rc=0
		nats_cluster_wait_ready "${NATS_TIMEOUT:-30}" 2>"$NATS_DIR/.wait-errors" || rc=$?
		if [ "$rc" -eq 0 ]; then
			rm -f "$NATS_DIR/.wait-errors"
			return 0
		fi
		# The port may still be held a moment after the kill: try again.
		if [ "$rc" -eq 2 ] && [ "$attempt" -lt 3 ] && _nats_bind_failed "$k" "$since" &&
		   ! _nats_pid_alive "${NATS_PIDS[k - 1]}"; then
			NATS_PIDS[k - 1]=
			sleep 1
			continue
		fi
		break
	done
	sed 's/^nats_cluster_wait_ready:/nats_node_start:/' "$NATS_DIR/.wait-errors" >&2
	rm -f "$NATS_DIR/.wait-errors"
	_nats_pid_alive "${NATS_PIDS[k - 1]}" || NATS_PIDS[k - 1]=
	return 1
}

# ---- clients ----

# nats_client_node_of_pid PID [TIMEOUT]: the node that process PID (a NATS
# client) is connected to, waiting up to TIMEOUT seconds (default 0: look
# once).  nats.c sends no pid in its CONNECT, so the process's established
# TCP sockets (from /proc/PID/fd and /proc/net/tcp, what "ss -tnp" shows)
# to a node's client port are matched against that node's /connz, whose
# connections list the client's local port.  The first match is printed.
nats_client_node_of_pid() {
	local pid=${1:-} timeout=${2:-0} end fd l lport st raddr rport inode k connz p
	if ! [[ $pid =~ ^[0-9]+$ ]]; then
		_nats_err "usage: nats_client_node_of_pid PID [TIMEOUT]"
		return 1
	fi
	if [ "$NATS_N" -eq 0 ]; then
		_nats_err "nats_client_node_of_pid: no cluster was started"
		return 1
	fi
	end=$(($(_nats_now_ms) + timeout * 1000))
	while :; do
		if [ ! -d "/proc/$pid" ]; then
			_nats_err "nats_client_node_of_pid: no process $pid"
			return 1
		fi
		local -A inodes=()
		for fd in /proc/"$pid"/fd/*; do
			l=$(readlink "$fd" 2>/dev/null) || continue
			[[ $l == socket:\[*\] ]] || continue
			l=${l#socket:[}
			inodes[${l%]}]=1
		done
		while read -r lport st raddr inode _; do
			[ "$st" = 01 ] || continue
			[ -n "${inodes[$inode]:-}" ] || continue
			rport=${raddr##*:}
			k=$(nats_node_of_port "$rport" 2>/dev/null) || continue
			[ -n "${NATS_PIDS[k - 1]:-}" ] || continue
			connz=$(nats_http_get "${NATS_HTTP_PORTS[k - 1]}" "/connz?limit=100000") || continue
			for p in $(_nats_json_values "$connz" port); do
				if [ "$p" = "$lport" ]; then
					echo "$k"
					return 0
				fi
			done
		done < <(_nats_tcp_sockets)
		[ "$(_nats_now_ms)" -lt "$end" ] || break
		sleep 0.2
	done
	_nats_err "nats_client_node_of_pid: process $pid has no connection listed in the /connz of any running node of the cluster in $NATS_DIR (client ports: ${NATS_PORTS[*]})"
	return 1
}

# nats_request PORT SUBJECT PAYLOAD [TIMEOUT]: a NATS request over bash's
# /dev/tcp to 127.0.0.1:PORT (no headers, no auth): publish PAYLOAD to
# SUBJECT with a fresh inbox as reply subject and print the first reply's
# payload.  Default TIMEOUT 10 s.
nats_request() {
	local port=${1:-} subject=${2:-} payload=${3-} timeout=${4:-10}
	local LC_ALL=C fd line inbox end len body words
	if [ -z "$port" ] || [ -z "$subject" ]; then
		_nats_err "usage: nats_request PORT SUBJECT PAYLOAD [TIMEOUT]"
		return 1
	fi
	if ! { exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
		_nats_err "nats_request: cannot connect to nats://127.0.0.1:$port"
		return 1
	fi
	if ! IFS= read -r -t "$timeout" -u "$fd" line || [[ $line != INFO* ]]; then
		exec {fd}>&-
		_nats_err "nats_request: no INFO from nats://127.0.0.1:$port (got '${line:-nothing}')"
		return 1
	fi
	inbox=_INBOX.nats_cluster_sh.$$.$RANDOM$RANDOM
	len=${#payload}
	(printf 'CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"name":"nats-cluster.sh","lang":"bash","version":"1","protocol":1,"echo":false,"headers":false,"no_responders":false}\r\nSUB %s 1\r\nUNSUB 1 1\r\nPUB %s %s %d\r\n%s\r\nPING\r\n' \
		"$inbox" "$subject" "$inbox" "$len" "$payload" 1>&"$fd") 2>/dev/null
	end=$(($(_nats_now_ms) + timeout * 1000))
	while [ "$(_nats_now_ms)" -lt "$end" ]; do
		IFS= read -r -t 1 -u "$fd" line || {
			[ $? -gt 128 ] && continue # read's timeout
			break                      # the server closed
		}
		line=${line%$'\r'}
		case $line in
		"MSG "*)
			read -r -a words <<<"$line"
			len=${words[${#words[@]} - 1]}
			body=
			if [ "$len" -gt 0 ]; then
				IFS= read -r -N "$len" -t "$timeout" -u "$fd" body || true
			fi
			exec {fd}>&-
			printf '%s\n' "$body"
			return 0
			;;
		PING) (printf 'PONG\r\n' 1>&"$fd") 2>/dev/null ;;
		-ERR*)
			exec {fd}>&-
			_nats_err "nats_request: nats://127.0.0.1:$port answered $line to a request on $subject"
			return 1
			;;
		esac
	done
	exec {fd}>&-
	_nats_err "nats_request: no reply on $subject from nats://127.0.0.1:$port within ${timeout}s"
	return 1
}

# nats_js_api K API [PAYLOAD]: request $JS.API.API (e.g. STREAM.CREATE.S,
# STREAM.INFO.S, INFO) on node K and print the JSON reply; fails if the
# reply holds an "error" (its description goes to stderr).  E.g. an R3
# stream:
#   nats_js_api 1 STREAM.CREATE.S '{"name":"S","subjects":["s.>"],"num_replicas":3}'
nats_js_api() {
	local k=${1:-} api=${2:-} payload=${3-} reply
	_nats_check_node nats_js_api "$k" || return 1
	if [ -z "$api" ]; then
		_nats_err "usage: nats_js_api K API [PAYLOAD]"
		return 1
	fi
	reply=$(nats_request "${NATS_PORTS[k - 1]}" "\$JS.API.$api" "$payload" 15) || return 1
	printf '%s\n' "$reply"
	if [[ $reply == *'"error":'* ]]; then
		_nats_err "nats_js_api: \$JS.API.$api on node $k failed: $(_nats_json_value "$reply" description) (log: $NATS_DIR/node$k/log)"
		return 1
	fi
}
