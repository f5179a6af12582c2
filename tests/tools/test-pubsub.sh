#!/bin/sh
# tests/tools/test-pubsub.sh - bcast-pub and bcast-sub end to end (TAP).
#
# POSIX sh: runs on the host and under busybox ash in the VM guest.
#   BCAST_TOOLS        directory holding bcast-pub and bcast-sub
#                      (default: tools, run from the repository)
#   BCAST_TEST_PREFIX  ring name prefix (default shm:pubsub-test-PID; a bare
#                      name is a device ring when bcast.ko is loaded)
# Rings are made with bcast-pub --create.  Nothing relies on timing beyond
# generous limits: readiness is awaited by polling what the tools print.

TOOLS=${BCAST_TOOLS:-$(dirname "$0")/../../build/tools}
PREFIX=${BCAST_TEST_PREFIX:-shm:pubsub-test-$$}
PUB=$TOOLS/bcast-pub
SUB=$TOOLS/bcast-sub
LIMIT=30			# seconds any single step may take

TMP=$(mktemp -d "${TMPDIR:-/tmp}/test-pubsub.XXXXXX") || {
	echo "Bail out! mktemp failed"; exit 1; }
RINGS=
BGPIDS=

cleanup() {
	for p in $BGPIDS; do
		kill -9 "$p" 2>/dev/null
	done
	# shm rings are files; device rings go with the VM.
	for r in $RINGS; do
		b=${r#shm:}
		rm -f "/dev/shm/$b" "/dev/hugepages/bcast.$b"
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

T=0
FAILED=0
ok() {
	T=$((T + 1))
	echo "ok $T - $1"
}
not_ok() {
	T=$((T + 1))
	FAILED=$((FAILED + 1))
	echo "not ok $T - $1"
}
# check DESC CMD...: ok if CMD succeeds.
check() {
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() {
	echo "# $*"
}
# Show a file as TAP comments (on failure).
show() {
	[ -f "$1" ] && sed 's/^/#   /' "$1" | head -n 20
}

# ring SUFFIX: r=PREFIX-SUFFIX, removed at exit.
ring() {
	r=$PREFIX-$1
	RINGS="$RINGS $r"
}

bg() {
	BGPIDS="$BGPIDS $1"
}

# Has process PID ended (gone, or a zombie not yet reaped)?
ended() {
	[ -d "/proc/$1" ] || return 0
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -z "$st" ] || [ "$st" = Z ]
}

# wait_exit PID [SECONDS]: its exit status, or 124 after killing it when it
# runs longer than SECONDS.
wait_exit() {
	i=0
	lim=$(( ${2:-$LIMIT} * 10 ))
	while ! ended "$1"; do
		i=$((i + 1))
		if [ "$i" -ge "$lim" ]; then
			diag "pid $1 still running after ${2:-$LIMIT} s: killed"
			kill -9 "$1" 2>/dev/null
			wait "$1" 2>/dev/null
			return 124
		fi
		sleep 0.1
	done
	wait "$1"
}

# wait_text FILE PATTERN [SECONDS]: until FILE holds a line matching PATTERN.
wait_text() {
	i=0
	lim=$(( ${3:-$LIMIT} * 10 ))
	until grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -ge "$lim" ]; then
			diag "no '$2' in $1 after ${3:-$LIMIT} s"
			show "$1"
			return 1
		fi
		sleep 0.1
	done
}

# wait_count FILE PATTERN N: until N lines of FILE match PATTERN.
wait_count() {
	i=0
	lim=$((LIMIT * 10))
	until [ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "$3" ]; do
		i=$((i + 1))
		if [ "$i" -ge "$lim" ]; then
			diag "fewer than $3 '$2' in $1 after $LIMIT s"
			show "$1"
			return 1
		fi
		sleep 0.1
	done
}

# json_num FILE KEY: the number after "KEY": in a one-line JSON object.
json_num() {
	sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1"
}

# Make a ring with no writer attached (bcast-pub --create, no input).
make_ring() {
	"$PUB" --create -q "$@" </dev/null
}

echo "# tools: $TOOLS, rings: $PREFIX-*"
if [ ! -x "$PUB" ] || [ ! -x "$SUB" ]; then
	echo "1..0 # SKIP no $PUB or $SUB (make tools)"
	exit 0
fi

# ---------------------------------------------------------------- usage
t_help() {
	"$PUB" --help >"$TMP/h1" && "$SUB" -h >"$TMP/h2" &&
	grep -q '^Usage: bcast-pub' "$TMP/h1" &&
	grep -q '^Usage: bcast-sub' "$TMP/h2" &&
	grep -q 'Exit status' "$TMP/h1" && grep -q 'Exit status' "$TMP/h2" &&
	"$PUB" --version | grep -q '^bcast-pub ' &&
	"$SUB" --version | grep -q '^bcast-sub '
}
check "--help and --version exit 0 with full usage" t_help

# usage_err OPTION-NAMED CMD...: exit 2 and stderr naming it.
usage_err() {
	want=$1
	shift
	"$@" >/dev/null 2>"$TMP/uerr"
	rc=$?
	if [ "$rc" != 2 ] || ! grep -q -e "$want" "$TMP/uerr"; then
		diag "$* -> exit $rc, wanted 2 naming '$want':"
		show "$TMP/uerr"
		return 1
	fi
}
t_bad_options() {
	usage_err --rate "$PUB" --rate fast x &&
	usage_err --size "$PUB" --size 8 x &&
	usage_err --ring-size "$PUB" --create --ring-size 5000 x &&
	usage_err --chunk "$PUB" --chunk 0 x &&
	usage_err --records "$PUB" --records --chunk 4 x &&
	usage_err --bogus "$PUB" --bogus x &&
	usage_err NAME "$PUB" &&
	usage_err --from "$SUB" --from middle x &&
	usage_err --count "$SUB" --count -1 x &&
	usage_err --timeout "$SUB" --timeout 1s x &&
	usage_err --hex "$SUB" --hex --raw x &&
	usage_err "one ring" "$SUB" --raw x y &&
	usage_err --cpu "$PUB" --cpu 4095 x &&
	usage_err --cpu "$SUB" --cpu many x &&
	usage_err --spin-us "$PUB" --spin-us -3 x
}
check "bad options exit 2 naming the option" t_bad_options

t_missing() {
	r="$PREFIX-missing"
	echo hi | "$PUB" "$r" 2>"$TMP/m1"
	rc1=$?
	"$SUB" "$r" 2>"$TMP/m2"
	rc2=$?
	[ "$rc1" = 3 ] && [ "$rc2" = 3 ] &&
	grep -q "$r" "$TMP/m1" && grep -q "$r" "$TMP/m2" || {
		diag "exit $rc1 / $rc2, wanted 3 / 3"
		show "$TMP/m1"
		show "$TMP/m2"
		return 1
	}
}
check "missing ring: exit 3 naming it (pub and sub)" t_missing

# ---------------------------------------------------------------- lines
seq 1 300 | sed 's/^/line /' >"$TMP/lines"
{
	echo
	echo "  spaces	and a tab  "
	echo
	head -c 3000 /dev/zero | tr '\0' 'x'
	echo
	echo "last line"
} >>"$TMP/lines"

t_lines_oldest() {
	ring lines
	"$PUB" --create -q "$r" <"$TMP/lines" &&
	"$SUB" --from oldest -q "$r" >/dev/null &&
	"$SUB" --from oldest "$r" >"$TMP/lines.out" 2>"$TMP/lines.err" &&
	cmp "$TMP/lines" "$TMP/lines.out" &&
	grep -q "no writer" "$TMP/lines.err"
}
check "lines round trip from oldest (no writer: drain and exit 0)" t_lines_oldest

t_unterminated() {
	ring unterm
	printf 'x\n\ny' | "$PUB" --create -q "$r" &&
	"$SUB" --from oldest -q "$r" && # --quiet: no output, exit 0
	"$SUB" --from oldest "$r" 2>/dev/null >"$TMP/u.out" &&
	printf 'x\n\ny\n' | cmp - "$TMP/u.out"
}
check "a last line without newline is a message; empty lines too" t_unterminated

# The writer is fed through a FIFO so it is alive before any reader
# starts; readers from latest then see exactly what follows.
t_lines_latest() {
	ring latest
	mkfifo "$TMP/fifo" || return 1
	"$PUB" --create -v "$r" <"$TMP/fifo" 2>"$TMP/lat.pub" &
	pp=$!
	bg $pp
	exec 3>"$TMP/fifo"
	wait_text "$TMP/lat.pub" "writing to" || { exec 3>&-; return 1; }
	# 3>&-: a reader holding the FIFO open would keep the writer alive
	"$SUB" -v "$r" >"$TMP/lat.out" 2>"$TMP/lat.err" 3>&- &
	sp=$!
	bg $sp
	"$SUB" -v --spin "$r" >"$TMP/lat.spin" 2>"$TMP/lat.spinerr" 3>&- &
	sp2=$!
	bg $sp2
	wait_text "$TMP/lat.err" "reading" &&
	wait_text "$TMP/lat.spinerr" "reading" || { exec 3>&-; return 1; }
	cat "$TMP/lines" >&3
	exec 3>&-
	wait_exit $pp || { diag "publisher failed"; show "$TMP/lat.pub"; }
	wait_exit $sp
	rc=$?
	wait_exit $sp2
	rc2=$?
	rm -f "$TMP/fifo"
	[ "$rc" = 0 ] && [ "$rc2" = 0 ] || {
		diag "sub exit $rc, --spin sub exit $rc2"
		show "$TMP/lat.err"
		show "$TMP/lat.spinerr"
		return 1
	}
	cmp "$TMP/lines" "$TMP/lat.out" && cmp "$TMP/lines" "$TMP/lat.spin"
}
check "lines from latest, subs (blocking and --spin) started first, exit 0 when the writer closes" t_lines_latest

# ---------------------------------------------------------------- records
# 4-byte little-endian lengths: an empty record, 256 binary bytes 0..255,
# text, and 40000 random bytes (> the 16 KiB MTU of a 64 KiB ring).
t_records() {
	ring records
	f=$TMP/records
	printf '\000\000\000\000' >"$f"
	printf '\000\001\000\000' >>"$f"
	head -c 256 /dev/urandom >>"$f"
	printf '\005\000\000\000hello' >>"$f"
	printf '\000\000\000\000' >>"$f"
	printf '\100\234\000\000' >>"$f"	# 0x9c40 = 40000
	head -c 40000 /dev/urandom >>"$f"
	printf '\003\000\000\000a\nb' >>"$f"
	[ "$(wc -c <"$f")" -eq $((4 + 260 + 9 + 4 + 40004 + 7)) ] || {
		diag "records file is $(wc -c <"$f") bytes"
		return 1
	}
	"$PUB" --create --ring-size 64K --records -q "$r" <"$f" &&
	"$SUB" --from oldest --records -q "$r" >/dev/null &&
	"$SUB" --from oldest --records "$r" >"$f.out" 2>/dev/null &&
	cmp "$f" "$f.out" &&
	"$SUB" --from oldest --hex "$r" 2>/dev/null >"$f.hex" &&
	[ "$(sed -n 's/.* len=\([0-9]*\).*/\1/p' "$f.hex" | tr '\n' ' ')" = \
	  "0 256 5 0 40000 3 " ]
}
check "--records round trip: binary, empty, 40000 bytes fragmented" t_records

t_truncated() {
	printf '\010\000\000\000abc' | "$PUB" --records -q "$PREFIX-records" \
		2>"$TMP/trunc.err"
	rc=$?
	[ "$rc" = 1 ] && grep -q "truncated record at offset 0" "$TMP/trunc.err" ||
		{ diag "exit $rc"; show "$TMP/trunc.err"; return 1; }
}
check "--records: a truncated record fails naming its offset" t_truncated

t_chunk() {
	ring chunk
	head -c 10000 /dev/urandom >"$TMP/chunk"
	"$PUB" --create -q --chunk 4K "$r" <"$TMP/chunk" &&
	"$SUB" --from oldest --raw "$r" 2>/dev/null >"$TMP/chunk.raw" &&
	cmp "$TMP/chunk" "$TMP/chunk.raw" &&
	"$SUB" --from oldest --hex "$r" 2>/dev/null >"$TMP/chunk.hex" &&
	[ "$(sed -n 's/.* len=\([0-9]*\).*/\1/p' "$TMP/chunk.hex" | tr '\n' ' ')" = \
	  "4096 4096 1808 " ]
}
check "--chunk: fixed chunks, the last shorter; --raw reproduces the input" t_chunk

t_hex() {
	ring hex
	printf 'hi\n\nAZ\n' | "$PUB" --create -q --type 7 "$r" &&
	"$SUB" --from oldest --hex "$r" 2>/dev/null >"$TMP/hex.out" &&
	sed 's/^pos=[0-9]* //' "$TMP/hex.out" >"$TMP/hex.cut" &&
	printf 'type=7 len=2 6869\ntype=7 len=0\ntype=7 len=2 415a\n' |
		cmp - "$TMP/hex.cut" &&
	grep -q '^pos=0 ' "$TMP/hex.out" &&
	"$SUB" --from oldest --raw "$r" 2>/dev/null >"$TMP/raw.out" &&
	printf 'hiAZ' | cmp - "$TMP/raw.out"
} 
check "--hex (pos, type, len, bytes) and --raw formats" t_hex

# ---------------------------------------------------------------- synthetic
# Subscribers wait (--follow) on a ring without a writer; the synthetic
# publisher then sends exactly 2000 messages.
t_synth() {
	ring synth
	make_ring "$r" || return 1
	"$SUB" --follow --count 2000 --json -v "$r" >"$TMP/s.json" \
		2>"$TMP/s.err" &
	sp=$!
	bg $sp
	"$SUB" --follow --count 2000 --stats --label live -q -v "$r" \
		>"$TMP/s.out" 2>"$TMP/s.stats" &
	sp2=$!
	bg $sp2
	wait_text "$TMP/s.err" "reading" && wait_text "$TMP/s.stats" "reading" ||
		return 1
	"$PUB" --rate 20k --count 2000 --size 100 --json "$r" >"$TMP/p.json" \
		2>"$TMP/p.err" || { show "$TMP/p.err"; return 1; }
	wait_exit $sp && wait_exit $sp2 || { show "$TMP/s.err"; show "$TMP/s.stats"; return 1; }
	[ "$(json_num "$TMP/p.json" messages)" = 2000 ] &&
	[ "$(json_num "$TMP/s.json" messages)" = 2000 ] &&
	[ "$(json_num "$TMP/s.json" bytes)" = 200000 ] &&
	[ "$(json_num "$TMP/s.json" synth_messages)" = 2000 ] &&
	[ "$(json_num "$TMP/s.json" seq_gaps)" = 0 ] &&
	[ "$(json_num "$TMP/s.json" lost_messages)" = 0 ] &&
	grep -q '"latency_us":{"p50":[0-9.]*,"p90":[0-9.]*,"p99":[0-9.]*,"p99_9":[0-9.]*,"p99_99":[0-9.]*,"max":[0-9.]*}' "$TMP/s.json" &&
	grep -q '"end":"count"' "$TMP/s.json" &&
	grep -q '^live: 2000 msgs, 0.20 MB in .*overruns 0, lost 0 msgs (0 bytes); sleeps [0-9]*$' "$TMP/s.stats" &&
	grep -q '^live: latency us p50 [0-9.]* p90 [0-9.]* p99 [0-9.]* p99.9 [0-9.]* p99.99 [0-9.]* max [0-9.]* (2000 synth msgs, 0 sent before this subscriber started not timed); seq gaps 0$' "$TMP/s.stats" &&
	[ "$(json_num "$TMP/s.json" synth_untimed)" = 0 ] &&
	[ ! -s "$TMP/s.out" ] || {
		show "$TMP/p.json"
		show "$TMP/s.json"
		show "$TMP/s.stats"
		return 1
	}
}
check "synthetic --rate/--count: exact count, seq gaps 0, latency in --json and --stats" t_synth

# A 4 KiB ring and a reader stopped (SIGSTOP) while 20000 messages go by:
# every overrun is told with its losses, and delivered + lost = published.
t_overrun() {
	ring overrun
	make_ring --ring-size 4096 "$r" || return 1
	"$SUB" --follow --json -v "$r" >"$TMP/o.json" 2>"$TMP/o.err" &
	sp=$!
	bg $sp
	wait_text "$TMP/o.err" "reading" || return 1
	kill -STOP $sp
	"$PUB" --count 20000 --size 48 --json "$r" >"$TMP/op.json" \
		2>"$TMP/op.err" || { kill -CONT $sp; show "$TMP/op.err"; return 1; }
	kill -CONT $sp
	# told once at the start (the ring had no writer), again once the
	# publisher's messages are read
	wait_count "$TMP/o.err" "writer gone" 2 || return 1
	kill -TERM $sp
	wait_exit $sp || { show "$TMP/o.err"; return 1; }
	pubd=$(json_num "$TMP/op.json" messages)
	got=$(json_num "$TMP/o.json" messages)
	lost=$(json_num "$TMP/o.json" lost_messages)
	told=$(sed -n 's/.*overrun at position [0-9]*: lost \([0-9]*\) messages ([0-9]* bytes)$/\1/p' \
		"$TMP/o.err" | awk '{ s += $1 } END { print s + 0 }')
	overruns=$(json_num "$TMP/o.json" overruns)
	lines=$(grep -c 'overrun at position' "$TMP/o.err")
	diag "published $pubd, delivered $got, lost $lost (told $told) in $overruns overruns"
	[ "$pubd" = 20000 ] && [ $((got + lost)) -eq 20000 ] &&
	[ "$lost" -gt 0 ] && [ "$told" -eq "$lost" ] &&
	[ "$lines" -eq "$overruns" ] &&
	[ "$(json_num "$TMP/o.json" seq_gaps)" = 0 ] &&
	grep -q '"end":"signal"' "$TMP/o.json" || {
		show "$TMP/o.err"
		show "$TMP/o.json"
		return 1
	}
}
check "small ring, stopped reader: overruns told with lost counts, messages + lost = published" t_overrun

# The same while a paced publisher runs and the reader is stopped and
# continued again and again: several overruns, each told, none unexplained.
t_overruns() {
	ring overruns
	make_ring --ring-size 4096 "$r" || return 1
	"$SUB" --follow --json -v "$r" >"$TMP/os.json" 2>"$TMP/os.err" &
	sp=$!
	bg $sp
	wait_text "$TMP/os.err" "reading" || return 1
	"$PUB" --rate 5k --count 10000 --json "$r" >"$TMP/osp.json" \
		2>"$TMP/osp.err" &
	pp=$!
	bg $pp
	while ! ended $pp; do
		kill -STOP $sp
		sleep 0.2
		kill -CONT $sp
		sleep 0.1
	done
	wait_exit $pp || { show "$TMP/osp.err"; return 1; }
	wait_count "$TMP/os.err" "writer gone" 2 || return 1
	kill -TERM $sp
	wait_exit $sp || { show "$TMP/os.err"; return 1; }
	got=$(json_num "$TMP/os.json" messages)
	lost=$(json_num "$TMP/os.json" lost_messages)
	told=$(sed -n 's/.*overrun at position [0-9]*: lost \([0-9]*\) messages ([0-9]* bytes)$/\1/p' \
		"$TMP/os.err" | awk '{ s += $1 } END { print s + 0 }')
	overruns=$(json_num "$TMP/os.json" overruns)
	lines=$(grep -c 'overrun at position' "$TMP/os.err")
	diag "published $(json_num "$TMP/osp.json" messages), delivered $got, lost $lost (told $told) in $overruns overruns"
	[ "$(json_num "$TMP/osp.json" messages)" = 10000 ] &&
	[ $((got + lost)) -eq 10000 ] && [ "$told" -eq "$lost" ] &&
	[ "$lines" -eq "$overruns" ] && [ "$overruns" -ge 1 ] &&
	[ "$(json_num "$TMP/os.json" seq_gaps)" = 0 ] &&
	[ "$(json_num "$TMP/os.json" synth_messages)" = "$got" ] || {
		show "$TMP/os.err"
		show "$TMP/os.json"
		return 1
	}
}
check "paced publisher, reader stopped again and again: every overrun told, seq gaps 0" t_overruns

# ---------------------------------------------------------------- writers
t_writer_death() {
	ring death
	"$PUB" --create --rate 1000 -v -q "$r" 2>"$TMP/d.pub" &
	pp=$!
	bg $pp
	wait_text "$TMP/d.pub" "writing to" || return 1
	"$SUB" --stats -v "$r" >"$TMP/d.out" 2>"$TMP/d.err" &
	sp=$!
	bg $sp
	wait_text "$TMP/d.err" "reading" || return 1
	# a second writer is refused while this one lives
	"$PUB" "$r" </dev/null 2>"$TMP/d.busy"
	rc=$?
	if [ "$rc" = 4 ] && grep -q "already has a writer (pid $pp)" "$TMP/d.busy"
	then
		ok "a second writer is refused: exit 4 naming the writer's pid"
	else
		not_ok "a second writer is refused: exit 4 naming the writer's pid"
		diag "second writer: exit $rc, wanted 4"
		show "$TMP/d.busy"
	fi
	wait_text "$TMP/d.out" . || return 1	# messages are flowing
	kill -9 $pp
	wait $pp 2>/dev/null
	wait_exit $sp
	rc=$?
	[ "$rc" = 0 ] && grep -q "writer gone" "$TMP/d.err" || {
		diag "sub exit $rc after the writer's SIGKILL"
		show "$TMP/d.err"
		return 1
	}
}
check "writer killed with SIGKILL: the sub exits 0" t_writer_death

t_sigterm() {
	ring term
	"$PUB" --create --rate 500 -v "$r" 2>"$TMP/t.pub" &
	pp=$!
	bg $pp
	wait_text "$TMP/t.pub" "writing to" || return 1
	"$SUB" -q --stats -v "$r" 2>"$TMP/t.err" &
	sp=$!
	bg $sp
	wait_text "$TMP/t.err" "reading" || return 1
	sleep 0.3
	kill -TERM $pp
	wait_exit $pp || { show "$TMP/t.pub"; return 1; }
	grep -q "^bcast-pub: [0-9]* messages, [0-9]* bytes in" "$TMP/t.pub" &&
	wait_exit $sp &&
	grep -q "writer gone" "$TMP/t.err" &&
	grep -q "^bcast-sub: [0-9]* msgs" "$TMP/t.err" || {
		show "$TMP/t.pub"
		show "$TMP/t.err"
		return 1
	}
}
check "SIGTERM: the publisher closes cleanly (exit 0, summary), the sub then exits 0" t_sigterm

t_follow() {
	ring follow
	printf 'a1\na2\n' | "$PUB" --create -q "$r" || return 1
	"$SUB" --follow --from oldest --count 4 -v "$r" >"$TMP/f.out" \
		2>"$TMP/f.err" &
	sp=$!
	bg $sp
	wait_text "$TMP/f.err" "writer gone" || return 1
	printf 'b1\nb2\n' | "$PUB" -q "$r" || return 1
	wait_exit $sp || { show "$TMP/f.err"; return 1; }
	printf 'a1\na2\nb1\nb2\n' | cmp - "$TMP/f.out"
}
check "--follow outlives the writer and reads the next writer's messages" t_follow

t_follow_ring() {
	ring appear
	"$SUB" --follow --count 1 "$r" >"$TMP/a.out" 2>"$TMP/a.err" &
	sp=$!
	bg $sp
	wait_text "$TMP/a.err" "waiting for ring" || return 1
	make_ring "$r" || return 1
	sleep 0.3	# the sub polls for the ring every 100 ms, then waits
	i=0
	# until the sub has joined, publish again (it reads from latest)
	while ! ended $sp && [ $i -lt 100 ]; do
		echo hello | "$PUB" -q "$r"
		sleep 0.1
		i=$((i + 1))
	done
	wait_exit $sp && [ "$(cat "$TMP/a.out")" = hello ]
}
check "--follow waits for a missing ring to appear" t_follow_ring

t_seconds() {
	ring seconds
	make_ring "$r" || return 1
	"$SUB" --follow --seconds 0.5 --json "$r" >"$TMP/sec.json" &&
	grep -q '"end":"seconds"' "$TMP/sec.json" || return 1
	"$SUB" --follow --timeout 300 "$r" 2>"$TMP/sec.err"
	rc=$?
	[ "$rc" = 1 ] && grep -q "timeout" "$TMP/sec.err" || {
		diag "--timeout: exit $rc"
		show "$TMP/sec.err"
		return 1
	}
}
check "--seconds ends with exit 0; --timeout with exit 1" t_seconds

# The summaries' names go through the JSON writer's escaping: a quote, a
# backslash, control characters, bytes that are not UTF-8, and UTF-8 that
# stays as it is.  Exact text, then (with python3) a strict parser's view.
t_json_escapes() {
	r=shm:pubsub-esc-$$-$(printf '"q\\b\001\377\303\251')
	RINGS="$RINGS $r"
	label=$(printf 'la"b\\el\002\376')
	want_ring=$(printf '"ring":"shm:pubsub-esc-%s-\\"q\\\\b\\u0001\\u00ff\303\251"' $$)
	want_label=$(printf '"label":"la\\"b\\\\el\\u0002\\u00fe"')
	make_ring "$r" || return 1
	echo hello | "$PUB" --json "$r" >"$TMP/esc-p.json" || return 1
	"$SUB" --from oldest --json --label "$label" "$r" >"$TMP/esc-s.json" ||
		return 1
	grep -q -F "$want_ring" "$TMP/esc-p.json" &&
	grep -q -F "$want_ring" "$TMP/esc-s.json" &&
	grep -q -F "$want_label" "$TMP/esc-s.json" || {
		diag "expected $want_ring and $want_label"
		show "$TMP/esc-p.json"
		show "$TMP/esc-s.json"
		return 1
	}
	command -v python3 >/dev/null 2>&1 || return 0
	python3 - "$TMP/esc-p.json" "$TMP/esc-s.json" "$r" "$label" <<'PY'
import codecs, json, os, sys
codecs.register_error("each_byte", lambda e: ("".join(
    chr(b) for b in e.object[e.start:e.end]), e.end))
def as_json(arg):
    return os.fsencode(arg).decode("utf-8", "each_byte")
pub = json.loads(open(sys.argv[1], encoding="utf-8").read())
sub = json.loads(open(sys.argv[2], encoding="utf-8").read())
assert pub["ring"] == sub["ring"] == as_json(sys.argv[3]), (pub, sub)
assert sub["label"] == as_json(sys.argv[4]), sub
assert pub["messages"] == sub["messages"] == 1, (pub, sub)
PY
}
check "--json: ring names and labels escaped, parsed back intact" t_json_escapes

# --cpu pins; --spin-us 0 paces by sleeping alone: every message still
# arrives, in order.
t_placement() {
	ring placement
	make_ring "$r" || return 1
	"$SUB" --follow --cpu 0 --count 200 --stats --quiet "$r" \
		2>"$TMP/pl.err" &
	sp=$!
	BGPIDS="$BGPIDS $sp"
	sleep 0.3
	"$PUB" --cpu 0 --rate 2000 --count 200 --spin-us 0 --quiet "$r" || return 1
	wait_exit $sp && grep -q "seq gaps 0" "$TMP/pl.err" &&
		grep -q "^bcast-sub: 200 msgs" "$TMP/pl.err" || {
		show "$TMP/pl.err"
		return 1
	}
}
check "--cpu and --spin-us 0: 200 paced messages, no gap" t_placement

# Several rings through one poller: each line tagged with its ring, a
# ring that appears later and a writer that comes back (--follow per
# ring), one --json record per ring, a clean stop on SIGTERM.
t_many_rings() {
	ring many-a; ra=$r
	ring many-b; rb=$r
	ring many-c; rc=$r
	make_ring "$ra" && make_ring "$rb" || return 1
	"$SUB" --follow "$ra" "$rb" "$rc" >"$TMP/many.out" 2>"$TMP/many.err" &
	sp=$!
	bg $sp
	wait_text "$TMP/many.err" "waiting for ring '$rc'" || return 1
	sleep 0.3
	printf 'a1\na2\n' | "$PUB" -q "$ra" || return 1
	printf 'b1\n' | "$PUB" -q "$rb" || return 1
	make_ring "$rc" || return 1
	wait_text "$TMP/many.out" "^$rb: b1\$" || return 1
	sleep 0.5	# the ring is looked for every 100 ms
	printf 'c1\n' | "$PUB" -q "$rc" || return 1
	wait_text "$TMP/many.out" "^$rc: c1\$" || return 1
	# A new writer on ring a: read on (--follow).
	printf 'a3\n' | "$PUB" -q "$ra" || return 1
	wait_text "$TMP/many.out" "^$ra: a3\$" || return 1
	kill -TERM $sp
	wait_exit $sp || { show "$TMP/many.err"; return 1; }
	printf '%s\n' "$ra: a1" "$ra: a2" "$rb: b1" "$rc: c1" "$ra: a3" \
		>"$TMP/many.want"
	# Per ring in order; the rings among themselves as published.
	cmp -s "$TMP/many.out" "$TMP/many.want" || {
		diag "got:"; show "$TMP/many.out"; return 1; }
	[ "$(grep -c "writer gone; waiting for a new one" "$TMP/many.err")" -ge 3 ] || {
		show "$TMP/many.err"; return 1; }
}
check "bcast-sub A B C: tagged lines, a late ring, a returning writer, SIGTERM" t_many_rings

# Without --follow: read every ring until each writer went, then exit 0;
# --json: one record per ring, with its own counts.
t_many_json() {
	ring mj-a; ra=$r
	ring mj-b; rb=$r
	make_ring "$ra" && make_ring "$rb" || return 1
	"$PUB" --rate 2000 --count 1000 --quiet "$ra" &
	pa=$!
	"$PUB" --rate 2000 --count 100 --quiet "$rb" &
	pb=$!
	bg "$pa $pb"
	sleep 0.05
	"$SUB" --json -f oldest "$ra" "$rb" >"$TMP/mj.out" 2>"$TMP/mj.err"
	st=$?
	wait $pa; wait $pb
	[ "$st" = 0 ] || { show "$TMP/mj.err"; return 1; }
	[ "$(wc -l <"$TMP/mj.out")" = 2 ] || { show "$TMP/mj.out"; return 1; }
	grep "\"ring\":\"$ra\"" "$TMP/mj.out" >"$TMP/mj.a" &&
		grep "\"ring\":\"$rb\"" "$TMP/mj.out" >"$TMP/mj.b" || {
		show "$TMP/mj.out"; return 1; }
	[ "$(json_num "$TMP/mj.a" messages)" = 1000 ] &&
		[ "$(json_num "$TMP/mj.b" messages)" = 100 ] &&
		[ "$(json_num "$TMP/mj.a" seq_gaps)" = 0 ] &&
		grep -q '"end":"writer-gone"' "$TMP/mj.a" || {
		show "$TMP/mj.out"; return 1; }
}
check "bcast-sub A B --json: one record per ring, every message, exit at the end" t_many_json

t_many_usage() {
	ring mu; make_ring "$r" || return 1
	"$SUB" --hex -f oldest "$r" "$r" >/dev/null 2>"$TMP/mu.err"
	[ $? = 2 ] && grep -q "named twice" "$TMP/mu.err" || return 1
	"$SUB" --raw "$r" "$r-x" >/dev/null 2>"$TMP/mu.err"
	[ $? = 2 ] && grep -q "take one ring" "$TMP/mu.err" || return 1
	"$SUB" --spin "$r" "$r-x" >/dev/null 2>"$TMP/mu.err"
	[ $? = 2 ] || return 1
	"$SUB" "$r" "$r-nonexistent" >/dev/null 2>"$TMP/mu.err"
	[ $? = 3 ] && grep -q "no ring '$r-nonexistent'" "$TMP/mu.err" || {
		show "$TMP/mu.err"; return 1; }
	printf 'x\n' | "$PUB" -q "$r" || return 1
	ring mu2; make_ring "$r" || return 1
	"$SUB" --hex -f oldest "$PREFIX-mu" "$r" >"$TMP/mu.out" 2>&1 &&
		grep -q "^ring=$PREFIX-mu pos=[0-9]* type=0 len=1 78\$" "$TMP/mu.out" || {
		show "$TMP/mu.out"; return 1; }
}
check "bcast-sub with several rings: usage errors, a missing ring, --hex tagged" t_many_usage

echo "1..$T"
[ "$FAILED" = 0 ]
