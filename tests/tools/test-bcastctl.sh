#!/bin/sh
# tests/tools/test-bcastctl.sh - bcastctl end to end, TAP output.
#
# POSIX sh and busybox applets only: it runs on the host (dash, bash) and in
# the VM guest (busybox ash, no python).
#
# Environment:
#   BCAST_TOOLS        directory with bcastctl (and bcast-pub, which holds a
#                      live writer for the "destroy while busy" cases; they
#                      are skipped without it).  Default: build/tools of the
#                      repository holding this script.
#   BCAST_TEST_PREFIX  ring-name prefix, default shm:bcastctl-test-$$.  A bare
#                      name (ctltest) means bcast.ko rings when the module is
#                      loaded, shm rings otherwise.
#
# Every ring it makes is removed on exit, whatever happens.  Nothing depends
# on timing beyond generous waits for background processes to start.

set -u

here=$(cd "$(dirname "$0")" && pwd)
TOOLS=${BCAST_TOOLS:-$here/../../build/tools}
CTL=$TOOLS/bcastctl
PUB=$TOOLS/bcast-pub
PREFIX=${BCAST_TEST_PREFIX:-shm:bcastctl-test-$$}
PLAN=59

# How NAME resolves: device rings for bare names while bcast.ko is loaded.
case $PREFIX in
shm:*)	base=${PREFIX#shm:}; device=no ;;
*/*|*:*) echo "Bail out! BCAST_TEST_PREFIX must be shm:NAME or NAME"; exit 1 ;;
*)	base=$PREFIX
	if [ -e /dev/bcast-ctl ]; then device=yes; else device=no; fi ;;
esac

R=$PREFIX-a		# the main ring
W=$PREFIX-w		# held by a live writer
C=$PREFIX-c		# counted messages
M=$PREFIX-missing	# never created
H=shm:$base-huge	# shm with --hugepage
# A name JSON must escape: a quote, a backslash, a control character, a
# byte that is not UTF-8, and UTF-8 (e-acute) that stays as it is.
Q=shm:$base-$(printf '"q\\b\001\377\303\251')
QJSON=$(printf '"shm:%s-\\"q\\\\b\\u0001\\u00ff\303\251"' "$base")
QMETA='say "hi" \ or \n'
QMETAJSON='"say \"hi\" \\ or \\n"'
if [ "$device" = yes ]; then
	LR=$R; LW=$W		# names as 'list' shows them
else
	LR=shm:${R#shm:}; LW=shm:${W#shm:}
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bcastctl-test.XXXXXX" 2>/dev/null) || {
	tmp=$PWD/bcastctl-test.$$
	mkdir -p "$tmp" || { echo "Bail out! no temporary directory"; exit 1; }
}
F=file:$tmp/ring	# a file ring
junk=/dev/shm/$base-junk	# a file in /dev/shm that is not a ring
bg=

cleanup() {
	for p in $bg; do
		kill "$p" 2>/dev/null
	done
	for r in "$R" "$W" "$C" "$H" "$F" "$Q"; do
		"$CTL" destroy --force "$r" >/dev/null 2>&1
	done
	rm -rf "$tmp"
	rm -f "$junk"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

n=0
fails=0

pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}

skip() {
	n=$((n + 1))
	echo "ok $n # SKIP $1"
}

# fail DESC WHY: a failure with what the last command printed.
fail() {
	n=$((n + 1))
	fails=$((fails + 1))
	echo "not ok $n - $1"
	echo "#   $2"
	sed -n '1,15s/^/#   stdout: /p' "$tmp/out" 2>/dev/null
	sed -n '1,15s/^/#   stderr: /p' "$tmp/err" 2>/dev/null
}

# run CMD...: its output in $tmp/out and $tmp/err, its status in $rc.
run() {
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# check DESC WANT_RC [FILE PATTERN]...: judge the last run: exit status,
# then each FILE (out or err) must match its grep pattern.
check() {
	desc=$1 want=$2
	shift 2
	if [ "$rc" -ne "$want" ]; then
		fail "$desc" "exit status $rc, expected $want"
		return
	fi
	while [ $# -ge 2 ]; do
		if ! grep -q -e "$2" "$tmp/$1"; then
			fail "$desc" "std$1 does not match '$2'"
			return
		fi
		shift 2
	done
	pass "$desc"
}

# verdict DESC CONDITION...: pass if the command succeeds.
verdict() {
	desc=$1
	shift
	if "$@"; then pass "$desc"; else fail "$desc" "failed: $*"; fi
}

have_python() {
	command -v python3 >/dev/null 2>&1
}

# Well-formed JSON: python3 when there is one, else a structural check
# (strings, balanced and matching brackets, no trailing commas, no bare
# words other than true/false/null).  With "lines", one document per line.
json_ok() {
	if have_python; then
		if [ "${2:-}" = lines ]; then
			python3 -c 'import json, sys
n = 0
for line in sys.stdin:
    json.loads(line)
    n += 1
sys.exit(0 if n else 1)' <"$1"
		else
			python3 -m json.tool <"$1" >/dev/null
		fi
		return
	fi
	awk -v perline="${2:-}" '
	function bad(m) { print "# json: line " NR ": " m; err = 1; exit 1 }
	{
		for (i = 1; i <= length($0); i++) {
			c = substr($0, i, 1)
			if (instr) {
				if (esc) esc = 0
				else if (c == "\\") esc = 1
				else if (c == "\"") instr = 0
				continue
			}
			if (c == "\"") { instr = 1; last = c; continue }
			if (c == "{" || c == "[") {
				stack[++d] = c
			} else if (c == "}" || c == "]") {
				if (d < 1) bad("unbalanced " c)
				if ((c == "}") != (stack[d] == "{")) bad("mismatched " c)
				if (last == ",") bad("trailing comma")
				d--
			} else if (c !~ /[-0-9.eE+:, \t]/ &&
				   c !~ /[truefalsn]/) {
				bad("stray character " c)
			}
			if (c != " " && c != "\t") last = c
		}
		if (instr) bad("unterminated string")
		if (perline == "lines" && d != 0) bad("not one document per line")
		if (d == 0 && NF) docs++
	}
	END { if (err) exit 1; if (d != 0 || !docs) { print "# json: incomplete"; exit 1 } }
	' "$1"
}

# The value of "KEY": in a one-line JSON object.
jfield() {
	sed -n "s/.*\"$2\": \\([^,}]*\\).*/\\1/p" "$1" | head -n 1
}

nap() {
	sleep 0.2 2>/dev/null || sleep 1
}

# wait_for SECONDS CMD...: retry CMD until it succeeds or time runs out.
wait_for() {
	tries=$(($1 * 5))
	shift
	while ! "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		nap
	done
}

readers_are() {
	"$CTL" info --json "$1" 2>/dev/null | grep -q "\"readers\": $2[,}]"
}

writer_alive() {
	"$CTL" info --json "$1" 2>/dev/null | grep -q '"writer_alive": true'
}

# The table's line for ring $1 (first column).
list_line() {
	awk -v name="$1" '$1 == name' "$tmp/out"
}

echo "1..$PLAN"
echo "# bcastctl: $CTL; prefix $PREFIX (device rings: $device)"
if [ ! -x "$CTL" ]; then
	echo "Bail out! $CTL is not built"
	exit 1
fi
# Leftovers of an interrupted run with the same prefix.
for r in "$R" "$W" "$H" "$Q"; do
	"$CTL" destroy --force "$r" >/dev/null 2>&1
done

# ---- help, version, usage errors ----
run "$CTL" --help
check "--help lists every command" 0 out "create NAME" out "destroy NAME" \
	out "list" out "info NAME" out "stat NAME" out "Exit status"
run "$CTL" --version
check "--version" 0 out "^bcastctl [0-9]"
helps=0
for c in create destroy list info stat; do
	run "$CTL" "$c" --help
	[ "$rc" -eq 0 ] && grep -q "^Usage: bcastctl $c" "$tmp/out" ||
		helps=$((helps + 1))
done
verdict "COMMAND --help for each command" [ "$helps" -eq 0 ]
run "$CTL"
check "no command: exit 2" 2 err "no command"
run "$CTL" frobnicate
check "unknown command: exit 2" 2 err "unknown command 'frobnicate'"
run "$CTL" create "$R" --bogus
check "unknown option: exit 2" 2 err "unknown option '--bogus'" \
	err "bcastctl create --help"
run "$CTL" create "$R" --size
check "option without its value: exit 2" 2 err "needs a value"
run "$CTL" create "$R" --size 5000
check "size not a power of two: exit 2" 2 err "not a power of two"
run "$CTL" create "$R" --mode 999
check "bad --mode: exit 2" 2 err "octal"
run "$CTL" stat "$R" --interval abc
check "bad --interval: exit 2" 2 err "interval"
run "$CTL" info
check "missing NAME: exit 2" 2 err "missing NAME"

# ---- create, info, list ----
run "$CTL" create "$R" --size 64K --mtu 1024 --metadata "hello bcast" \
	--mode 0640
check "create $R" 0 out "created"
run "$CTL" create "$R"
check "create twice: EEXIST" 1 err "already exists"
run "$CTL" info "$R"
check "info: geometry, writer, metadata, mode" 0 out "capacity  *65536" \
	out "mtu  *1024" out 'metadata  *"hello bcast"' out "writer  *none" \
	out "readers  *0" out "mode  *0640"
run "$CTL" info --json "$R"
if [ "$rc" -eq 0 ] && json_ok "$tmp/out" &&
   [ "$(jfield "$tmp/out" capacity)" = 65536 ] &&
   [ "$(jfield "$tmp/out" metadata)" = '"hello bcast"' ] &&
   [ "$(jfield "$tmp/out" writer_alive)" = false ]; then
	pass "info --json"
else
	fail "info --json" "exit $rc or bad JSON"
fi
run "$CTL" --json info "$R"
if [ "$rc" -eq 0 ] && json_ok "$tmp/out"; then
	pass "--json before the command"
else
	fail "--json before the command" "exit $rc or bad JSON"
fi
if [ "$device" = yes ]; then
	run "$CTL" info "$R"
	check "info: a bcast.ko ring" 0 out "backend  *device" out "/dev/bcast"
else
	run "$CTL" info "$R"
	check "info: an shm ring" 0 out "backend  *shm" out "/dev/shm/$base-a"
fi

run "$CTL" list
if [ "$rc" -eq 0 ] && head -n 1 "$tmp/out" | grep -q "^NAME  *BACKEND  *SIZE  *HUGEPAGE  *WRITER  *READERS  *PATH" &&
   list_line "$LR" | grep -q " 64K  *no  *-  *0 "; then
	pass "list: header and the ring"
else
	fail "list: header and the ring" "no header or no line for $LR"
fi
run "$CTL" list --json
if [ "$rc" -eq 0 ] && json_ok "$tmp/out" &&
   grep -q "\"name\": \"$LR\", \"backend\": \"[a-z]*\", \"path\": \"[^\"]*\", \"size\": 65536" "$tmp/out"; then
	pass "list --json"
else
	fail "list --json" "exit $rc, bad JSON or no $LR"
fi

# A file in /dev/shm without a ring header is no ring.
if echo "not a ring, not at all, and long enough to be read" >"$junk" 2>/dev/null; then
	run "$CTL" list
	if [ "$rc" -eq 0 ] && [ -z "$(list_line "shm:$base-junk")" ] &&
	   [ -n "$(list_line "$LR")" ]; then
		pass "list leaves out a file that is not a ring"
	else
		fail "list leaves out a file that is not a ring" "exit $rc"
	fi
	rm -f "$junk"
else
	skip "list leaves out a file that is not a ring: /dev/shm not writable"
fi

# ---- stat ----
run "$CTL" stat "$R" --count 3 --interval 0.1
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 3 ] &&
   [ "$(grep -c "committed=0 claimed=0 messages=0 messages_per_sec=0 payload_bytes=0 payload_bytes_per_sec=0 bytes_per_sec=0 writer_alive=0 .*readers=0" "$tmp/out")" -eq 3 ]; then
	pass "stat --count 3: three lines"
else
	fail "stat --count 3: three lines" "exit $rc"
fi
run "$CTL" stat "$R" --json -c 2 -i 0.1
if [ "$rc" -eq 0 ] && [ "$(wc -l <"$tmp/out")" -eq 2 ] &&
   json_ok "$tmp/out" lines && grep -q '"bytes_per_sec": 0' "$tmp/out"; then
	pass "stat --json: one object per refresh"
else
	fail "stat --json: one object per refresh" "exit $rc or bad JSON"
fi

# A second bcastctl watching the ring is a reader (a mapping, or a device
# reader file); Ctrl-C ends it with status 0.
"$CTL" stat "$R" --interval 0.2 --count 1000 >"$tmp/bgstat" 2>&1 &
watcher=$!
bg="$bg $watcher"
if wait_for 20 readers_are "$R" 1; then
	pass "info counts a reader"
else
	run "$CTL" info "$R"
	fail "info counts a reader" "readers never became 1"
fi
run "$CTL" list
if list_line "$LR" | grep -q " 1  */"; then
	pass "list counts a reader"
else
	fail "list counts a reader" "$(list_line "$LR")"
fi
kill -INT "$watcher"
wait "$watcher"
rc=$?
verdict "stat ends with status 0 on SIGINT" [ "$rc" -eq 0 ]
if wait_for 20 readers_are "$R" 0; then
	pass "the reader is gone"
else
	fail "the reader is gone" "readers stayed above 0"
fi

# ---- missing rings ----
run "$CTL" info "$M"
check "info of a missing ring: exit 3" 3 err "no ring '$M'"
run "$CTL" stat "$M" --count 1
check "stat of a missing ring: exit 3" 3 err "no ring '$M'"
run "$CTL" destroy "$M"
check "destroy of a missing ring: exit 3" 3 err "no ring '$M'"
if [ "$device" = yes ]; then
	check_msg="looked in /sys/class/bcast"
else
	check_msg="looked in /dev/shm/$base-missing"
fi
run "$CTL" info "$M"
check "the error says where it looked" 3 err "$check_msg"

# ---- permissions: the ring is 0600 root's; another user may not look ----
# (A device ring is still described to them, from sysfs.)
if [ "$device" = no ] && [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" info "$R"
	check "another user: permission denied, named" 1 err "permission denied"
else
	skip "another user: permission denied, named: needs an shm ring, root and setpriv"
fi

# ---- device nodes and --device ----
if [ "$device" = yes ]; then
	run "$CTL" info --json "$R"
	node=$(jfield "$tmp/out" path | tr -d '"')
	run "$CTL" info "$node"
	check "info /dev/bcastN" 0 out "capacity  *65536" out "backend  *device"
	run "$CTL" info --device "$R"
	check "info --device" 0 out "backend  *device"
else
	run "$CTL" info /dev/bcast0
	check "/dev/bcastN without bcast.ko: exit 3" 3 \
		err "bcast.ko is not loaded: /dev/bcast-ctl does not exist"
	run "$CTL" create "$base-dev" --device
	check "create --device without bcast.ko" 1 err "bcast.ko is not loaded"
fi

# ---- file and hugepage rings ----
run "$CTL" create "$F" --size 16K
check "create a file ring" 0 out "created file ring"
run "$CTL" info "$F"
check "info of a file ring" 0 out "backend  *file" out "capacity  *16384"
run "$CTL" destroy "$F"
if [ "$rc" -eq 0 ] && [ ! -e "$tmp/ring" ]; then
	pass "destroy a file ring"
else
	fail "destroy a file ring" "exit $rc"
fi
echo "not a ring, not at all" >"$tmp/plain"
run "$CTL" destroy --force "file:$tmp/plain"
if [ "$rc" -eq 3 ] && [ -e "$tmp/plain" ] &&
   grep -q "is not a bcast ring" "$tmp/err"; then
	pass "destroy never removes a file that is not a ring"
else
	fail "destroy never removes a file that is not a ring" "exit $rc"
fi

# Huge pages when a hugetlbfs with free pages is mounted (the VM has one).
free_huge=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo 2>/dev/null)
hugemnt=$(awk '$3 == "hugetlbfs" { print $2; exit }' /proc/mounts 2>/dev/null)
run "$CTL" create "$H" --hugepage --size 1M
if [ -n "$hugemnt" ] && [ "${free_huge:-0}" -ge 2 ]; then
	check "create --hugepage on hugetlbfs" 0 out "huge pages" \
		out "$hugemnt/bcast.$base-huge"
	run "$CTL" info "$H"
	check "info: hugepage yes" 0 out "hugepage  *yes"
else
	check "create --hugepage without hugetlbfs: normal pages" 0 \
		out "note: huge pages were asked for"
	run "$CTL" info "$H"
	check "info: hugepage no" 0 out "hugepage  *no"
fi
run "$CTL" list
if list_line "$H" | grep -q " 1M "; then
	pass "list shows the hugepage ring"
else
	fail "list shows the hugepage ring" "no line for $H"
fi
run "$CTL" destroy "$H"
check "destroy the hugepage ring" 0 out "destroyed"
run "$CTL" info "$H"
check "it is gone" 3 err "no ring"

# ---- a live writer ----
if [ -x "$PUB" ]; then
	run "$CTL" create "$W" --size 64K
	"$PUB" "$W" --rate 1000 --size 64 --seconds 600 -q \
		>"$tmp/pub.out" 2>"$tmp/pub.err" &
	pub=$!
	bg="$bg $pub"
	if wait_for 30 writer_alive "$W"; then
		pass "bcast-pub attached as writer"
	else
		fail "bcast-pub attached as writer" "$(cat "$tmp/pub.err")"
	fi
	run "$CTL" destroy "$W"
	check "destroy while the writer is alive: exit 4" 4 \
		err "ring busy: writer pid $pub is alive; --force to remove anyway"
	run "$CTL" list --json
	if grep "\"name\": \"$LW\"" "$tmp/out" |
	   grep -q "\"writer_alive\": true, \"writer_pid\": $pub,"; then
		pass "list shows the writer's pid"
	else
		fail "list shows the writer's pid" "pid $pub not listed"
	fi
	run "$CTL" stat "$W" --count 3 --interval 0.5
	if [ "$rc" -eq 0 ] && grep -q "writer_alive=1 writer_pid=$pub " "$tmp/out" &&
	   grep -v -q "bytes_per_sec=0 " "$tmp/out" &&
	   grep -q "messages_per_sec=[1-9]" "$tmp/out" &&
	   grep -q "payload_bytes=[1-9][0-9]* payload_bytes_per_sec=[1-9]" "$tmp/out"; then
		pass "stat: the writer, a message rate, a payload rate and a byte rate"
	else
		fail "stat: the writer, a message rate, a payload rate and a byte rate" "exit $rc"
	fi
	run "$CTL" destroy --force "$W"
	check "destroy --force with a live writer" 0 out "destroyed"
	kill "$pub" 2>/dev/null
	wait "$pub" 2>/dev/null
	# 3000 messages of 40 bytes through a 16 KiB ring: many laps.
	"$PUB" "$C" --create --ring-size 16K --count 3000 --size 40 -q 2>"$tmp/pub.err"
	run "$CTL" info --json "$C"
	if [ "$rc" -eq 0 ] && [ "$(jfield "$tmp/out" messages)" = 3000 ] &&
	   [ "$(jfield "$tmp/out" payload_bytes)" = 120000 ]; then
		pass "info counts every message published"
	else
		fail "info counts every message published" "$(cat "$tmp/out" "$tmp/pub.err")"
	fi
else
	for what in "bcast-pub attached as writer" \
		    "destroy while the writer is alive: exit 4" \
		    "list shows the writer's pid" \
		    "stat: the writer, a message rate and a byte rate" \
		    "info counts every message published" \
		    "destroy --force with a live writer"; do
		skip "$what: no $PUB"
	done
fi

# ---- JSON escaping: what names and metadata hold comes out intact ----
# json_field FILE KEY BYTES: does the JSON in FILE hold KEY (of an object
# anywhere in it) whose string is BYTES as json.h encodes them (UTF-8 as it
# is, other bytes as the code point of the same value)?  Without python3,
# grep for the exact escaped text instead.
json_field() {
	if have_python; then
		python3 -c 'import codecs, json, os, sys
codecs.register_error("each_byte", lambda e: ("".join(
    chr(b) for b in e.object[e.start:e.end]), e.end))
want = os.fsencode(sys.argv[3]).decode("utf-8", "each_byte")
found = []
def walk(v):
    if isinstance(v, dict):
        found.extend(x for k, x in v.items() if k == sys.argv[2])
        for x in v.values(): walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
for line in open(sys.argv[1], encoding="utf-8"):
    if line.strip() not in ("[", "]"):
        walk(json.loads(line.strip().rstrip(",")))
sys.exit(0 if want in found else 1)' "$1" "$2" "$3"
	else
		json_ok "$1" && grep -q -F "\"$2\": $4" "$1"
	fi
}

run "$CTL" create "$Q" --size 16K --metadata "$QMETA"
check "create a ring whose name needs escaping" 0 out "created"
run "$CTL" info --json "$Q"
if [ "$rc" -eq 0 ] && json_ok "$tmp/out" &&
   json_field "$tmp/out" name "$Q" "$QJSON" &&
   json_field "$tmp/out" metadata "$QMETA" "$QMETAJSON"; then
	pass "info --json: the name and the metadata escaped"
else
	fail "info --json: the name and the metadata escaped" "exit $rc"
fi
run "$CTL" list --json
if [ "$rc" -eq 0 ] && json_field "$tmp/out" name "$Q" "$QJSON"; then
	pass "list --json: the name escaped"
else
	fail "list --json: the name escaped" "exit $rc"
fi
run "$CTL" info "/dev/shm/${Q#shm:}"
check "/dev/shm/NAME is shm:NAME" 0 out "backend  *shm" out "capacity  *16384"
run "$CTL" stat --json -c 1 -i 0.1 "$Q"
if [ "$rc" -eq 0 ] && json_ok "$tmp/out" lines &&
   json_field "$tmp/out" name "$Q" "$QJSON"; then
	pass "stat --json: the name escaped"
else
	fail "stat --json: the name escaped" "exit $rc"
fi
if [ -w /dev/full ]; then
	"$CTL" info --json "$Q" >/dev/full 2>"$tmp/err"
	rc=$?
	check "JSON that cannot be written: exit 1, said" 1 \
		err "writing JSON to stdout"
else
	skip "JSON that cannot be written: no /dev/full"
fi
run "$CTL" destroy --json "$Q"
if [ "$rc" -eq 0 ] && json_field "$tmp/out" name "$Q" "$QJSON"; then
	pass "destroy --json: the name escaped"
else
	fail "destroy --json: the name escaped" "exit $rc"
fi

# ---- destroy ----
run "$CTL" destroy --json "$R"
if [ "$rc" -eq 0 ] && json_ok "$tmp/out" &&
   [ "$(jfield "$tmp/out" destroyed)" = true ]; then
	pass "destroy --json"
else
	fail "destroy --json" "exit $rc or bad JSON"
fi
run "$CTL" info "$R"
check "info after destroy: exit 3" 3 err "no ring"
run "$CTL" list
if [ "$rc" -eq 0 ] && [ -z "$(list_line "$LR")" ]; then
	pass "list no longer shows it"
else
	fail "list no longer shows it" "$(list_line "$LR")"
fi
# With nothing left, the table is its header and the JSON an empty array.
lines=$(wc -l <"$tmp/out")
run "$CTL" list --json
if ! json_ok "$tmp/out"; then
	fail "list --json is well-formed" "bad JSON"
elif [ "$lines" -eq 1 ] && [ "$(cat "$tmp/out")" != "[]" ]; then
	fail "list --json is well-formed" "empty table but JSON is not []"
else
	pass "list --json is well-formed (empty: [])"
fi

if [ "$n" -ne "$PLAN" ]; then
	echo "# planned $PLAN tests, ran $n"
	exit 1
fi
echo "# $((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
