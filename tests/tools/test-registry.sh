#!/bin/sh
# tests/tools/test-registry.sh - the reader registry and gated rings through
# the tools (bcastctl create/info/stat, bcast-sub --register, bcast-pub),
# TAP output.  POSIX sh and busybox applets: host and VM guest alike.
#
# Environment: BCAST_TOOLS (default build/tools of this repository),
# BCAST_TEST_PREFIX (default shm:registry-test-$$; while bcast.ko is loaded
# a gated device ring is made too).  The gated
# and registry rings are always shm rings.

set -u

here=$(cd "$(dirname "$0")" && pwd)
TOOLS=${BCAST_TOOLS:-$here/../../build/tools}
CTL=$TOOLS/bcastctl
PUB=$TOOLS/bcast-pub
SUB=$TOOLS/bcast-sub
PREFIX=${BCAST_TEST_PREFIX:-shm:registry-test-$$}
base=${PREFIX#shm:}
G=shm:$base-gated	# gated, evicts nobody
N=shm:$base-none	# no registry
D=$base-dev		# bcast.ko, when loaded
PLAN=12

tmp=$(mktemp -d "${TMPDIR:-/tmp}/registry-test.XXXXXX") || {
	echo "Bail out! no temporary directory"; exit 1; }
bg=
cleanup() {
	for p in $bg; do kill -9 "$p" 2>/dev/null; done
	for r in "$G" "$N"; do "$CTL" destroy --force "$r" >/dev/null 2>&1; done
	[ -e /dev/bcast-ctl ] && "$CTL" destroy --force "$D" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

n=0
fails=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
fail() {
	n=$((n + 1)); fails=$((fails + 1))
	echo "not ok $n - $1"
	echo "#   $2"
	sed -n '1,15s/^/#   stdout: /p' "$tmp/out" 2>/dev/null
	sed -n '1,15s/^/#   stderr: /p' "$tmp/err" 2>/dev/null
}
run() { "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; }
check() {
	desc=$1 want=$2
	shift 2
	if [ "$rc" -ne "$want" ]; then
		fail "$desc" "exit status $rc, expected $want"; return
	fi
	while [ $# -ge 2 ]; do
		if ! grep -q -e "$2" "$tmp/$1"; then
			fail "$desc" "std$1 does not match '$2'"; return
		fi
		shift 2
	done
	pass "$desc"
}
nap() { sleep 0.2 2>/dev/null || sleep 1; }
# wait_for SECONDS CMD...
wait_for() {
	tries=$(($1 * 5))
	shift
	while ! "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		nap
	done
}
registered_are() {
	"$CTL" info --json "$1" 2>/dev/null | grep -q "\"registered\": $2[,}]"
}

echo "1..$PLAN"
for r in "$G" "$N"; do "$CTL" destroy --force "$r" >/dev/null 2>&1; done

run "$CTL" create "$G" --size 64K --gated --evict-ms 60000
check "create --gated" 0 out "created gated shm ring" out "1024 reader slots"
run "$CTL" info --json "$G"
check "info --json: the registry and the policy" 0 \
	out '"reader_slots": 1024' out '"gated": true' out '"evict_ms": 60000' \
	out '"registered": 0'
run "$CTL" create "$N" --size 64K --evict-bytes 4K
check "an eviction policy without --gated: exit 2" 2 err "add --gated"
run "$CTL" create "$N" --size 64K --reader-slots 0
check "create --reader-slots 0" 0 out "0 reader slots"
run "$SUB" "$N" --register -q
check "bcast-sub --register on a ring without a registry: exit 1" 1 \
	err "no reader registry"

# A registered subscriber from the oldest message, then a writer flat out
# into a 64 KiB gated ring: every message reaches it, none lost.
"$SUB" "$G" --register --from oldest -F --count 200000 --json \
	>"$tmp/sub.json" 2>"$tmp/sub.err" &
sub=$!
bg="$bg $sub"
if wait_for 10 registered_are "$G" 1; then
	pass "bcast-sub --register is listed"
else
	fail "bcast-sub --register is listed" "registered never became 1"
fi
run "$CTL" info --readers "$G"
check "info --readers: its pid, reading" 0 \
	out "registry .*1 registered.*gated" out "^ *0 *$sub reading"
run "$PUB" "$G" --count 200000 --size 64
wait "$sub"
subrc=$?
if [ "$rc" -eq 0 ] && [ "$subrc" -eq 0 ] &&
   grep -q '"messages":200000,' "$tmp/sub.json" &&
   grep -q '"lost_messages":0,' "$tmp/sub.json" &&
   grep -q '"seq_gaps":0,' "$tmp/sub.json"; then
	pass "gated: 200000 messages into 64 KiB, every one delivered"
else
	fail "gated: 200000 messages into 64 KiB, every one delivered" \
		"pub $rc, sub $subrc: $(cat "$tmp/sub.json" "$tmp/sub.err")"
fi

# A subscriber that stops reading, then is killed: listed dead, the writer
# no longer waits for it.
"$SUB" "$G" --register -F -q >/dev/null 2>&1 &
sub=$!
bg="$bg $sub"
wait_for 10 registered_are "$G" 1
kill -STOP "$sub"
run "$PUB" "$G" --count 500 --size 64	# fits: 500 frames of 72 bytes
run "$CTL" stat --readers -c 1 -i 0.1 "$G" </dev/null
check "stat --readers: the stopped reader and its lag" 0 \
	out "registered=1" \
	out "reader slot=0 pid=$sub alive=1 position=[0-9]* lag_bytes=360[0-9]* lag_messages=500"
kill -9 "$sub"
wait "$sub" 2>/dev/null
run "$CTL" info --readers --json "$G"
check "info --readers --json: a killed reader is dead" 0 \
	out '"registered_readers": \[{"slot": 0' out '"alive": false'
run "$PUB" "$G" --count 5000 --size 64
check "the writer goes on past a dead reader" 0 err "5000 messages"

if [ -e /dev/bcast-ctl ]; then
	"$CTL" create "$D" --gated --size 64K >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 0 ] && run "$CTL" info --json "$D"
	check "a gated bcast.ko ring, 16 slots by default" 0 \
		out '"backend": "device"' out '"reader_slots": 16' \
		out '"gated": true'
else
	skip "bcast.ko is not loaded: no gated device ring"
fi

if [ "$n" -ne "$PLAN" ]; then
	echo "# planned $PLAN tests, ran $n"
	exit 1
fi
echo "# $((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
