#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Exhaustive model checks of the two protocols a race can break, with spin:
# lib/owner.pml (who is the writer) and lib/wait.pml (no lost wake-up).
# See the header comment of each model for what it models and proves.
set -u

usage() {
	cat <<'EOF'
Usage: tests/model/run.sh [--big] [--list] [--refs|--anchors] [-h|--help] [PATTERN]

Checks lib/owner.pml and lib/wait.pml exhaustively with spin: every
configuration must verify with 0 errors over a complete search, and every
deliberately broken variant (the old ownership protocol, a missing fence,
an ignored membarrier() failure, no take-over, the code before the fixes
of 1eb3adf and 6dc40fe...) must yield a counter-example, which shows that
the properties can fail.  Prints TAP ("ok N - ..." / "not ok N - ...")
with the states stored and matched, the search depth and the time of each
run, then "N passed, N failed"; exits non-zero on any failure.

A "# TODO" test is a property that the C code does not have yet (a known
bug): it is expected to fail and counts neither way; it says so when it
starts passing.  There are none now: the bugs the models found are fixed,
and the code before each fix is a variant that must fail.

  --big      also run the larger configurations (several minutes)
  --list     list the checks and exit
  --refs     print every C line the models and the checks cite (name.c:N)
             and exit
  --anchors  run only the last check (the cited lines), in a second
  PATTERN    run only the checks whose name matches this extended regex

The last check compares cited lines (the anchors) with what they hold: when
the C code moved, it fails with the stale references (update the comments
in lib/*.pml, the descriptions here and the anchors below, e.g. with
tests/model/remap.py REV: a model that cites the wrong line misleads
whoever checks it against the code).

Installs the Debian package "spin" with apt-get when it is missing and this
runs as root.  Works in build/model/ (one folder per check, with its pan
sources, log and, for a counter-example, the trail: replay it with the
"spin -t -p" command printed for it).  Environment: MODEL_DIR (work folder),
MEMLIM (MiB per search, default 4096), DEPTH (pan -m, default 500000).
EOF
}

big=0
list=0
refs=0
anchors_only=0
pattern=
while [ $# -gt 0 ]; do
	case $1 in
	-h|--help) usage; exit 0 ;;
	--big) big=1 ;;
	--list) list=1 ;;
	--refs) refs=1 ;;
	--anchors) anchors_only=1 ;;
	-*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) pattern=$1 ;;
	esac
	shift
done

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$root/tests/lib.sh"
work=${MODEL_DIR:-$root/build/model}
memlim=${MEMLIM:-4096}
depth=${DEPTH:-500000}

# name | model | spin -D flags | kind | expect | what
#   kind: safety (assertions, invalid end states) or ltl (acceptance
#         cycles under weak fairness); a trailing "-nored" disables
#         partial-order reduction (the plain, unreduced state space),
#         "-collapse" stores states compressed (lossless, slower)
#   expect: pass, fail:REGEX (a counter-example whose pan output matches
#         REGEX), todo:REGEX (a known bug: fails for now)
tests=(
"owner-mem-4|owner|-DN=4 -DKILLS=1|safety|pass|memory ring, 4 contenders + reader, 1 crash at any step, pids /proc may hide (cannot say: alive): never two writers, reader reports gone only a writer that left, no deadlock"
"owner-mem-3x2|owner|-DN=3 -DKILLS=2|safety-nored|pass|memory ring, 3 contenders + reader, 2 crashes, unreduced: never two writers, reader reports gone only a writer that left, no deadlock"
"owner-ofd-4|owner|-DOFD -DN=4 -DKILLS=1|safety|pass|shm/file ring (OFD lock), 4 contenders + reader, 1 crash: never two writers, reader reports gone only a writer that left, no deadlock"
"owner-ofd-3x2|owner|-DOFD -DN=3 -DKILLS=2|safety-nored|pass|shm/file ring (OFD lock), 3 contenders + reader, 2 crashes, unreduced: never two writers, no deadlock"
"owner-ofd-foreign-4|owner|-DOFD -DFOREIGN -DN=4 -DKILLS=1|safety|pass|shm/file ring, pids not always visible (pid namespaces, hidepid): the OFD lock still gives one writer"
"owner-progress-mem|owner|-DPROGRESS -DN=3 -DKILLS=1|ltl|pass|memory ring, 3 contenders, 1 crash: every live contender becomes writer (weak fairness)"
"owner-progress-ofd|owner|-DPROGRESS -DOFD -DN=3 -DKILLS=1|ltl|pass|shm/file ring, 3 contenders, 1 crash: every live contender becomes writer (weak fairness)"
"owner-progress-ofd-foreign|owner|-DPROGRESS -DOFD -DFOREIGN -DN=3 -DKILLS=1|ltl|pass|shm/file ring, pids not always visible: every live contender becomes writer"
"owner-old|owner|-DOLD -DNOREADER -DN=3 -DKILLS=1|safety|fail:assertion violated.*holders|the old protocol (pid word, free when !writer_alive, start time trusted) must admit two writers"
"owner-mem-foreign|owner|-DFOREIGN -DNOREADER -DN=3 -DKILLS=1|safety|fail:assertion violated.*holders|memory ring whose owner's pid names no process here, or whose start time reads otherwise (another pid namespace, or a time namespace's boottime offset; no OFD lock to tell) must admit two writers"
"owner-hidepid-dead|owner|-DHIDEPID_DEAD -DNOREADER -DN=3 -DKILLS=1|safety|fail:assertion violated.*holders|memory ring, owner.c before 1eb3adf (a pid that kill() finds and /proc hides taken for dead) must admit two writers"
"owner-start0-dead|owner|-DSTART0_DEAD -DNOREADER -DN=3 -DKILLS=1|safety|fail:assertion violated.*holders|memory ring, owner.c before 6dc40fe (an owner without /proc, start time 0, compared with the real one: a reused pid, so dead) must admit two writers"
"owner-ofd-start0-dead|owner|-DOFD -DSTART0_DEAD -DN=3 -DKILLS=1|safety|pass|shm/file ring, owner.c before 6dc40fe (an owner without start time taken for dead): the OFD lock still gives one writer"
"owner-no-takeover|owner|-DPROGRESS -DNO_TAKEOVER -DN=3 -DKILLS=1|ltl|fail:acceptance cycle|without take-over from a dead owner, progress must fail"
"owner-epoch-first|owner|-DEPOCH_FIRST -DN=3 -DKILLS=1|safety|fail:assertion violated.*set_epoch|bcast_writer_open() before 1eb3adf (epoch bumped before writer_alive = 1): a reader must report the arriving writer gone"
"owner-device|owner|-DDEVICE|safety|pass|device ring, 3 writers one after the other, each closing or dying anywhere, a reader calling bcast_wait() again and again: it reports gone only a writer that left, each departure once, no deadlock"
"owner-device-4|owner|-DDEVICE -DN=4|safety-nored|pass|device ring, 4 writers, unreduced: reports gone only a writer that left, each departure once, no deadlock"
"owner-device-state-last|owner|-DDEVICE -DSTATE_LAST|safety|fail:assertion violated.*set_epoch|device ring, bcast_writer_attach() before 6dc40fe (writer_state after the header's alive and epoch, not before, kmod/file.c:56-64): a reader must get EPOLLHUP and report the arriving writer gone"
"owner-device-hangup-epoch0|owner|-DDEVICE -DHANGUP_EPOCH0|safety|fail:assertion violated.*reported|device ring, look_at_writer() before 6dc40fe (epoch 0 reported after a hangup, wait.c:35 without its *epoch test): one departure must be reported twice"
"owner-device-old-hangup|owner|-DDEVICE -DOLD_HANGUP|safety|fail:assertion violated.*set_epoch|device ring, look_at_writer() before 1eb3adf (a fresh epoch reported after a hangup) must report a writer that is up"
"owner-device-epoch-first|owner|-DDEVICE -DEPOCH_FIRST|safety|fail:assertion violated.*set_epoch|device ring, bcast_writer_attach() before 1eb3adf (epoch before writer_alive) must report a writer that is up"
"wait-fence-3r|wait|-DNR=3|safety|pass|writer fences, 3 readers, 2 messages, x86-TSO: no lost wake-up, no deadlock"
"wait-fence-m3|wait|-DM=3|safety-nored|pass|writer fences, 2 readers, 3 messages, unreduced: no lost wake-up, no deadlock"
"wait-membarrier-3r|wait|-DMEMBARRIER -DNR=3|safety|pass|readers' membarrier() for the writer's fence, 3 readers: no lost wake-up, no deadlock"
"wait-membarrier-m3|wait|-DMEMBARRIER -DM=3|safety-nored|pass|readers' membarrier() for the writer's fence, 2 readers, 3 messages, unreduced: no lost wake-up"
"wait-mbfail-m3|wait|-DMB_FAIL -DM=3|safety-nored|pass|a reader's membarrier() fails: it sleeps with a timeout, the writer goes back to fencing; never an untimed sleep that can miss a wake-up"
"wait-no-writer-fence|wait|-DNO_WRITER_FENCE|safety|fail:assertion violated.*queued|without the writer's fence (and no membarrier) a wake-up must be lost"
"wait-no-reader-fence|wait|-DNO_READER_FENCE|safety|fail:assertion violated.*queued|without the reader's fence a wake-up must be lost"
"wait-mbfail-ignored|wait|-DMB_FAIL_IGNORED|safety|fail:assertion violated.*queued|a failed membarrier() ignored: a wake-up must be lost"
"wait-no-open-fence|wait|-DNO_OPEN_FENCE|safety|fail:assertion violated.*queued|without bcast_writer_open()'s fence (writer.c:625) a reader that saw the old writer_flags must miss a wake-up"
"wait-device-fence-m3|wait|-DDEVICE -DM=3|safety|pass|device ring (ARM, poll, NOTIFY counted, in line or by the worker), writer fences, 2 readers, 3 messages: no lost wake-up, no deadlock"
"wait-device-membarrier|wait|-DDEVICE -DMEMBARRIER|safety|pass|device ring, readers' membarrier() for the writer's fence (poll() ready after a NOTIFY since ARM): no lost wake-up, no deadlock"
"wait-device-mbfail|wait|-DDEVICE -DMB_FAIL|safety|pass|device ring, a reader's membarrier() fails: it arms with BCAST_ARM_NO_MEMBARRIER and polls in bounded slices until the writer fences; never an untimed sleep that can miss a wake-up"
"wait-device-old-poll|wait|-DDEVICE -DOLD_POLL -DMEMBARRIER|safety|fail:assertion violated.*queued|device ring, membarrier, bcast_poll() before 1eb3adf (re-arms in the kernel after a NOTIFY) must lose a wake-up"
"wait-device-old-poll-mbfail|wait|-DDEVICE -DOLD_POLL -DMB_FAIL|safety|fail:assertion violated.*queued|device ring, a reader's membarrier() fails, bcast_poll() before 1eb3adf: the other reader's in-kernel re-arm must lose a wake-up"
"wait-device-count-first|wait|-DDEVICE -DNOTIFY_COUNT_FIRST -DMEMBARRIER|safety|fail:assertion violated.*queued|device ring, NOTIFY counted before it clears need_wakeup (not after, file.c:343-349) must lose a wake-up"
"wait-device-count-late|wait|-DDEVICE -DNOTIFY_COUNT_LATE -DMEMBARRIER|safety|fail:assertion violated.*queued|device ring, NOTIFY counted after its wake-up (not before, file.c:349-350) must lose a wake-up"
"wait-device-sample-late|wait|-DDEVICE -DARM_SAMPLE_LATE -DMEMBARRIER|safety|fail:assertion violated.*queued|device ring, ARM sampling the NOTIFY count after setting need_wakeup (not before, file.c:328-331) must lose a wake-up"
"wait-device-queue-late|wait|-DDEVICE -DDEVICE_QUEUE_LATE|safety|fail:assertion violated.*queued|device ring, bcast_poll() queueing after its checks (not before, file.c:274) must lose a wake-up"
"wait-device-no-writer-fence|wait|-DDEVICE -DNO_WRITER_FENCE|safety|fail:assertion violated.*queued|device ring without the writer's fence (and no membarrier) must lose a wake-up"
)
big_tests=(
"owner-mem-4x2|owner|-DN=4 -DKILLS=2|safety-collapse|pass|memory ring, 4 contenders + reader, 2 crashes: never two writers, no deadlock"
"owner-ofd-4x2|owner|-DOFD -DN=4 -DKILLS=2|safety|pass|shm/file ring, 4 contenders + reader, 2 crashes: never two writers, no deadlock"
"owner-progress-mem-4|owner|-DPROGRESS -DN=4 -DKILLS=1|ltl|pass|memory ring, 4 contenders, 1 crash: every live contender becomes writer"
"owner-device-5|owner|-DDEVICE -DN=5|safety|pass|device ring, 5 writers: reports gone only a writer that left, each departure once, no deadlock"
"wait-mbfail-3r|wait|-DMB_FAIL -DNR=3|safety|pass|a reader's membarrier() fails, 3 readers: never an untimed sleep that can miss a wake-up"
"wait-device-fence-3r|wait|-DDEVICE -DNR=3|safety-collapse|pass|device ring, writer fences, 3 readers: no lost wake-up"
"wait-device-membarrier-m3|wait|-DDEVICE -DMEMBARRIER -DM=3|safety|pass|device ring, membarrier, 3 messages: no lost wake-up"
"wait-device-mbfail-m3|wait|-DDEVICE -DMB_FAIL -DM=3|safety|pass|device ring, a reader's membarrier() fails, 3 messages: never an untimed sleep that can miss a wake-up"
"wait-fence-3r-m3|wait|-DNR=3 -DM=3|safety-collapse|pass|writer fences, 3 readers, 3 messages: no lost wake-up"
)
[ $big = 1 ] && tests+=("${big_tests[@]}")
[ $anchors_only = 1 ] && tests=()

selected=()
for t in "${tests[@]}"; do
	name=${t%%|*}
	if [ -z "$pattern" ] || [[ $name =~ $pattern ]]; then
		selected+=("$t")
	fi
done

# Lines the models cite, and a word each must still hold.
anchors=(
"owner.c:109|start = 0"
"owner.c:134|token_of_self()"
"owner.c:137|kill(pid, 0)"
"owner.c:139|if (!want)"
"owner.c:140|return -1"
"owner.c:143|== want"
"owner.c:147|return -1"
"owner.c:169|return true"
"owner.c:182|token_process_alive(token)"
"owner.c:188|BCAST_LOCK_OFD"
"owner.c:190|alive < 0"
"owner.c:198|writer_alive"
"device.c:570|cleared by the kernel"
"owner.c:200|writer_lock"
"owner.c:240|F_OFD_SETLK"
"owner.c:264|ofd_lock(r, at, lock_fd)"
"owner.c:269|BCAST_LOCK_OFD"
"owner.c:270|load_acquire(word)"
"owner.c:272|token_alive(r, cur"
"owner.c:279|__atomic_compare_exchange_n(word"
"owner.c:310|__atomic_compare_exchange_n(word, &expect"
"owner.c:313|ofd_unlock"
"writer.c:142|writer_flags, 0"
"writer.c:163|h->committed, pos"
"writer.c:172|fence_full"
"writer.c:173|need_wakeup"
"owner.c:288|owner_claim"
"writer.c:610|readers_fence_for_us"
"writer.c:613|resume_positions"
"writer.c:621|writer_alive, 1"
"owner.c:301|writer_epoch, 1, __ATOMIC_RELEASE"
"writer.c:625|fence_full"
"writer.c:630|writer_release"
"writer.c:658|writer_alive, 0"
"writer.c:659|writer_release"
"futex.c:41|need_wakeup, 0"
"futex.c:42|wake_seq"
"futex.c:35|FUTEX_WAKE"
"membarrier.c:65|fence_full"
"membarrier.c:55|writer_flags"
"membarrier.c:38|MEMBARRIER_CMD_GLOBAL_EXPEDITED"
"membarrier.c:49|BCAST_READERS_NO_MEMBARRIER"
"device.c:494|BCAST_ARM_NO_MEMBARRIER"
"device.c:517|device_request_wakeup"
"device.c:537|BOUNDED_SLICE_MIN_MS"
"device.c:543|WRITER_LIVE ? 1 : 0"
"futex.c:105|wake_seq"
"futex.c:107|need_wakeup, 1"
"futex.c:110|reader_ready"
"futex.c:122|FUTEX_WAIT"
"wait.c:35|*epoch && !gone_reported(rd, *epoch)"
"wait.c:38|writer_epoch"
"wait.c:39|writer_alive"
"wait.c:42|*epoch && !gone_reported"
"wait.c:61|reader_ready"
"wait.c:63|look_at_writer"
"wait.c:69|gone_epoch = epoch"
"wait.c:79|hangup = err == 1"
"internal.h:508|committed"
"device.c:439|DEVICE_POLL_HANGUP"
"file.c:51|bcast_ws_epoch(ws) + 1"
"file.c:56|atomic64_set(&ring->writer_state, epoch << 1 | BCAST_WRITER_PRESENT)"
"file.c:57|smp_mb__after_atomic"
"file.c:61|writer_alive, 1"
"file.c:64|smp_store_release(&h->writer_epoch"
"file.c:65|mutex_unlock"
"file.c:67|EPOLLPRI"
"file.c:77|mutex_lock"
"file.c:79|writer_alive, 0"
"file.c:82|~BCAST_WRITER_PRESENT"
"file.c:86|EPOLLHUP"
"file.c:95|notifies"
"file.c:212|smp_mb"
"file.c:215|need_wakeup, 1"
"file.c:236|EPOLLHUP"
"file.c:274|poll_wait"
"file.c:260|smp_mb"
"file.c:261|notifies) != a.notifies"
"file.c:320|BCAST_READERS_NO_MEMBARRIER"
"file.c:328|armed.notifies"
"file.c:331|need_wakeup, 1"
"file.c:343|need_wakeup, 0"
"file.c:349|atomic_long_inc(&ring->notifies)"
"file.c:350|bcast_wake"
"wake.c:126|atomic_xchg"
"wake.c:170|smp_mb"
)

# Where a cited file is: lib/, or kmod/ for bcast.ko's.
src() {
	case $1 in
	file.c|wake.c) echo "$root/kmod/$1" ;;
	*) echo "$root/lib/$1" ;;
	esac
}

if [ $refs = 1 ]; then
	# In the models and in the checks' descriptions (not the old
	# protocol's, cited as "old writer.c:N" of 79818a2)
	{ cat "$root/lib/owner.pml" "$root/lib/wait.pml"
	  printf '%s\n' "${tests[@]}" "${big_tests[@]}"; } |
	grep -vE '79818a2|old (writer|wait)\.c' |
	grep -oE '(owner|writer|wait|reader|device|file|wake)\.c:[0-9]+(-[0-9]+)?' |
	sort -u -t: -k1,1 -k2n |
	while IFS=: read -r file range; do
		first=${range%-*}
		printf '%-16s %s\n' "$file:$range" \
			"$(sed -n "${first}p" "$(src "$file")" | sed 's/^[[:space:]]*//')"
	done
	exit 0
fi

if [ $list = 1 ]; then
	for t in "${selected[@]}"; do
		IFS='|' read -r name model defs kind expect what <<<"$t"
		printf '%-28s %-6s %-40s %-12s %s\n' "$name" "$model" "$defs" "$kind" "${expect%%:*}"
	done
	exit 0
fi
if [ ${#selected[@]} = 0 ] && [ $anchors_only = 0 ]; then
	echo "run.sh: no check matches '$pattern'" >&2
	exit 2
fi

# spin, from Debian, when missing.
if [ $anchors_only = 1 ]; then
	:
elif ! command -v spin >/dev/null 2>&1; then
	if ! install_packages model spin || ! command -v spin >/dev/null 2>&1; then
		echo "Bail out! spin is not installed (apt-get install spin, as root)"
		exit 1
	fi
fi
command -v gcc >/dev/null 2>&1 || { echo "Bail out! gcc is not installed"; exit 1; }

mkdir -p "$work" || { echo "Bail out! cannot create $work"; exit 1; }
[ $anchors_only = 1 ] || echo "# $(spin -V 2>&1 | head -n 1); work folder $work"
if [ -z "$pattern" ]; then
	tap_plan $((${#selected[@]} + 1))
else
	tap_plan ${#selected[@]}
fi

start_all=$(date +%s.%N)

for t in "${selected[@]}"; do
	IFS='|' read -r name model defs kind expect what <<<"$t"
	dir=$work/$name
	rm -rf "$dir"
	mkdir -p "$dir"
	cp "$root/lib/$model.pml" "$dir/"

	cflags="-DMEMLIM=$memlim"
	pflags="-m$depth -n"
	case $kind in
	safety*) cflags="$cflags -DSAFETY" ;;
	ltl*) cflags="$cflags -DNFAIR=3"; pflags="$pflags -a -f" ;;
	esac
	case $kind in
	*-nored) cflags="$cflags -DNOREDUCE" ;;
	*-collapse) cflags="$cflags -DCOLLAPSE" ;;	# lossless compression
	esac

	t0=$(date +%s.%N)
	status=ran
	# shellcheck disable=SC2086
	if ! (cd "$dir" && spin -a $defs "$model.pml") >"$dir/spin.log" 2>&1; then
		status="spin -a failed"
	elif ! (cd "$dir" && gcc -w -O2 $cflags -o pan pan.c) >"$dir/gcc.log" 2>&1; then
		status="gcc failed"
	else
		(cd "$dir" && ./pan $pflags) >"$dir/pan.log" 2>&1
	fi
	t1=$(date +%s.%N)
	secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')

	log=$dir/pan.log
	errors='' stored='' matched='' reached=''
	if [ "$status" = ran ]; then
		errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
		stored=$(awk '/states, stored/ { print $1; exit }' "$log")
		matched=$(awk '/states, matched/ { print $1; exit }' "$log")
		reached=$(sed -n 's/.*depth reached \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
	fi
	# A pass needs the whole state space: full state storage (no bitstate
	# or hash-compact), no depth or memory limit reached.
	complete=1
	if [ "$status" != ran ] || [ -z "$errors" ] ||
	   ! grep -q 'Full statespace search' "$log" ||
	   grep -qiE 'search depth too small|max search depth|MEMLIM bound|out of memory|search not completed|hash-compact|bit(state)? ?hash' "$log"; then
		complete=0
	fi
	figures="${stored:-?} states stored, ${matched:-?} matched, depth ${reached:-?}, ${secs} s"
	replay="cd $dir && spin -t -p $defs $model.pml"

	verdict=bad
	note=
	case $expect in
	pass)
		if [ $complete = 1 ] && [ "$errors" = 0 ]; then
			verdict=ok
		elif [ "$status" != ran ]; then
			note="$status (see $dir)"
		elif [ $complete = 0 ]; then
			note="search incomplete or aborted (see $log)"
		else
			note="$errors error(s): replay with: $replay"
		fi
		;;
	fail:*|todo:*)
		re=${expect#*:}
		if [ "$status" = ran ] && [ "${errors:-0}" -ge 1 ] 2>/dev/null &&
		   ls "$dir"/*.trail >/dev/null 2>&1 && grep -qE "$re" "$log"; then
			verdict=ok
			note="counter-example found as expected: $replay"
		elif [ "$status" != ran ]; then
			note="$status (see $dir)"
		elif [ $complete = 1 ] && [ "$errors" = 0 ]; then
			note="no counter-example: the model cannot see this fault"
		else
			note="not the expected counter-example /$re/ (see $log)"
		fi
		;;
	esac

	model_what="$model: $what"
	case $expect in
	todo:*)
		# the counter-example found: the bug is still there
		if [ $verdict = ok ]; then
			tap_todo 1 "$model_what ($figures)"
		else
			tap_todo 0 "$model_what ($figures)"
		fi
		echo "#   $note"
		;;
	*)
		if [ $verdict = ok ]; then
			tap_ok "$model_what ($figures)"
			[ -n "$note" ] && echo "#   $note"
		else
			tap_not_ok "$model_what ($figures)"
			echo "#   $note"
			[ -f "$log" ] && grep -E 'error|violated|cycle|too small|MEMLIM|memory' "$log" | head -n 5 | sed 's/^/#   /'
		fi
		;;
	esac
done

# Are the cited lines still where the comments say?
if [ -z "$pattern" ]; then
	stale=
	for a in "${anchors[@]}"; do
		ref=${a%%|*} word=${a#*|}
		file=${ref%%:*} line=${ref#*:}
		sed -n "${line}p" "$(src "$file")" | grep -qF -- "$word" ||
			stale="$stale $ref"
	done
	if [ -z "$stale" ]; then
		tap_ok "the C lines the models cite hold what they say (${#anchors[@]} checked)"
	else
		tap_not_ok "the C lines the models cite hold what they say: stale:$stale (see --refs)"
	fi
fi

end_all=$(date +%s.%N)
echo "# total $(awk -v a="$start_all" -v b="$end_all" 'BEGIN { printf "%.0f", b - a }') s; $TAP_TODO todo (known bugs, not counted)"
tap_summary
