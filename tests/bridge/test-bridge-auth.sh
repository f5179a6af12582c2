#!/usr/bin/env bash
# bcast-bridge's security options against real servers on 127.0.0.1: one
# with TLS that requires a client certificate (a CA, server and client
# certificates made here with openssl) and a token, one with users and
# passwords.  Messages go through with the right options; a missing
# client certificate, an unknown CA, a wrong token or password each make
# the bridge exit 1 with an error that names the servers.  TAP; the last
# line "N passed, N failed".
# Usage: tests/bridge/test-bridge-auth.sh   (BCAST_TOOLS: the tools)
set -u -o pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
. tests/bridge/nats-cluster.sh
. tests/bridge/bridge-lib.sh

TOOLS=${BCAST_TOOLS:-build/tools}
BRIDGE=$TOOLS/bcast-bridge
CHECK=${BCAST_BRIDGE_CHECK:-build/tests/bridge/bridge-check}
N=20000
TAG=ba$$

case "${1:-}" in
-h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
for f in "$BRIDGE" "$CHECK" "$TOOLS/bcastctl"; do
	if [ ! -x "$f" ]; then
		tap_not_ok "bridge-auth: $f is not built (make tools tests)"
		tap_summary bridge-auth
		exit 1
	fi
done
if ! command -v openssl >/dev/null; then
	tap_not_ok "bridge-auth: openssl is needed to make the certificates"
	tap_summary bridge-auth
	exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bcast-bridge-auth.XXXXXX")
PIDS=()
SERVERS=()
cleanup() {
	local p r
	for p in "${PIDS[@]}" "${SERVERS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	for r in src1 dst1 src2 dst2; do
		"$TOOLS/bcastctl" destroy "shm:$TAG-$r" >/dev/null 2>&1
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# ---- certificates: a CA, the server's for 127.0.0.1, a client's; and a
# second CA that signed nothing here ----
pki() (
	cd "$WORK" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bcast-test-ca \
		-keyout ca.key -out ca.pem &&
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca \
		-keyout other.key -out other.pem &&
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
		-keyout server.key -out server.csr &&
	printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext &&
	openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-days 2 -extfile server.ext -out server.pem &&
	openssl req -newkey rsa:2048 -nodes -subj /CN=bcast-bridge \
		-keyout client.key -out client.csr &&
	printf 'extendedKeyUsage=clientAuth\n' >client.ext &&
	openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
		-days 2 -extfile client.ext -out client.pem
)

# server NAME PORT CONFIG...: a nats-server with these config lines.
server() {
	local name=$1 port=$2 bin i
	shift 2
	bin=$(_nats_server_bin) || return 1
	{
		echo "listen: \"127.0.0.1:$port\""
		printf '%s\n' "$@"
	} >"$WORK/$name.conf"
	"$bin" -c "$WORK/$name.conf" >"$WORK/$name.log" 2>&1 &
	SERVERS+=($!)
	for ((i = 0; i < 100; i++)); do
		nats_port_listening "$port" && return 0
		sleep 0.1
	done
	sed 's/^/#   /' "$WORK/$name.log" | tail -n 10
	return 1
}

echo "TAP version 13"
pki >"$WORK/pki.log" 2>&1
tap_result $? "openssl: a CA, a server certificate for 127.0.0.1, a client certificate" ||
	{ sed 's/^/#   /' "$WORK/pki.log" | tail -n 10; tap_summary bridge-auth; exit 1; }

read -r P1 P2 < <(_nats_pick_ports 2)
TLS_URL=nats://127.0.0.1:$P1
USER_URL=nats://127.0.0.1:$P2
server tls "$P1" \
	"tls { cert_file: \"$WORK/server.pem\", key_file: \"$WORK/server.key\", ca_file: \"$WORK/ca.pem\", verify: true }" \
	'authorization { token: "s3cret-token" }'
tap_result $? "a server with TLS, client certificates required, and a token ($TLS_URL)"
server users "$P2" \
	'authorization { users: [ { user: "feed", password: "pa55word" } ] }'
tap_result $? "a server with a user and a password ($USER_URL)"

TLS_OK=(--tls-ca "$WORK/ca.pem" --tls-cert "$WORK/client.pem" --tls-key "$WORK/client.key" --token s3cret-token)

# through K URL OPTIONS...: N messages from src$K to dst$K with these
# options on both bridges, every one checked.
through() {
	local k=$1 url=$2 in out line
	shift 2
	"$TOOLS/bcastctl" create "shm:$TAG-src$k" --size 16M >/dev/null || return 1
	start "in$k" "$BRIDGE" in "$url" "$TAG.s$k" "shm:$TAG-dst$k" -c -v "$@"
	in=$LAST
	start "out$k" "$BRIDGE" out "shm:$TAG-src$k" "$url" "$TAG.s$k" -v "$@"
	out=$LAST
	wait_line "$WORK/in$k.err" bridging 10 && wait_line "$WORK/out$k.err" bridging 10 ||
		return 1
	sleep 0.5
	start "verify$k" "$CHECK" verify "shm:$TAG-dst$k" "$N" 60
	local verify=$LAST
	"$CHECK" publish "shm:$TAG-src$k" "$N" 0 20000 || return 1
	wait "$verify"
	line=$(cat "$WORK/verify$k.out")
	echo "# $line"
	kill -TERM "$in" "$out" 2>/dev/null
	wait "$in" "$out"
	[ "$(field "$line" delivered)" = "$N" ]
}

through 1 "$TLS_URL" "${TLS_OK[@]}"
tap_result $? "TLS with a client certificate and a token: all $N messages, each checked"
through 2 "$USER_URL" --user feed --password pa55word
tap_result $? "--user and --password: all $N messages, each checked"

# refused WHAT TEXT URL OPTIONS...: the out bridge exits 1 and says TEXT
# (case-insensitive) and the server's address.
refused() {
	local what=$1 text=$2 url=$3 rc
	shift 3
	"$TOOLS/bcastctl" create "shm:$TAG-src1" --size 1M >/dev/null 2>&1
	timeout 30 "$BRIDGE" out "shm:$TAG-src1" "$url" "$TAG.r" --connect-timeout-ms 2000 \
		"$@" >"$WORK/refused.out" 2>"$WORK/refused.err"
	rc=$?
	sed 's/^/# /' "$WORK/refused.err"
	[ $rc -eq 1 ] && grep -qi -- "$text" "$WORK/refused.err" &&
		grep -q -- "127.0.0.1:" "$WORK/refused.err"
	tap_result $? "$what: exit 1, the error says '$text' and names the server"
}

refused "no client certificate" "client certificate" "$TLS_URL" \
	--tls-ca "$WORK/ca.pem" --token s3cret-token
refused "a CA that did not sign the server's certificate" "cannot connect" "$TLS_URL" \
	--tls-ca "$WORK/other.pem" --tls-cert "$WORK/client.pem" --tls-key "$WORK/client.key" \
	--token s3cret-token
refused "a wrong token" "authorization" "$TLS_URL" \
	--tls-ca "$WORK/ca.pem" --tls-cert "$WORK/client.pem" --tls-key "$WORK/client.key" \
	--token wrong
refused "a wrong password" "authorization" "$USER_URL" --user feed --password wrong
refused "TLS asked of a server without it" "cannot connect" "$USER_URL" --tls \
	--user feed --password pa55word

# --tls-insecure: the server's certificate is not checked (the client's
# is still needed).
"$TOOLS/bcastctl" create "shm:$TAG-src1" --size 1M >/dev/null 2>&1
timeout 30 "$BRIDGE" out "shm:$TAG-src1" "$TLS_URL" "$TAG.i" --tls-insecure \
	--tls-cert "$WORK/client.pem" --tls-key "$WORK/client.key" --token s3cret-token \
	-v -n 1 --heartbeat-ms 100 >"$WORK/insecure.out" 2>"$WORK/insecure.err" &
ins=$!
wait_line "$WORK/insecure.err" bridging 15
rc=$?
kill -TERM "$ins" 2>/dev/null
wait "$ins"
tap_result $rc "--tls-insecure with a client certificate connects without the CA"

for p in "${SERVERS[@]}"; do kill -TERM "$p" 2>/dev/null; done
wait "${SERVERS[@]}" 2>/dev/null
SERVERS=()
! nats_port_listening "$P1" && ! nats_port_listening "$P2"
tap_result $? "the servers are stopped, their ports closed"
tap_summary bridge-auth
