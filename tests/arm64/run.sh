#!/usr/bin/env bash
# The arm64 stage of make check: cross-build libbcast and its unit test
# programs for aarch64 and run them under qemu-aarch64 (user-mode
# emulation).  TAP passes through; the last line is "arm64: N passed, N
# failed".  Functional only: qemu on an x86-64 host runs the guest's loads
# and stores with the host's (TSO) ordering, so weak ordering is not
# reproduced; README.md's ordering argument and the models are the proof.
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 2
. tests/lib.sh

PROG=tests/arm64/run.sh
OUT=${BCAST_ARM64_OUT:-build/arm64}
CROSS=${BCAST_ARM64_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-}
CPUS=${BCAST_ARM64_CPUS:-max cortex-a53}
LIMIT=${BCAST_ARM64_TIMEOUT:-60}
JOBS=${BCAST_ARM64_JOBS:-$(nproc 2>/dev/null || echo 2)}

# Sizes for the emulator, where a program runs 3-10x slower than natively
# (a variable already in the environment wins).  A new tests/test-*.c needs
# no entry: every program there runs.
declare -A SCALED=(
    [test-stress]="BCAST_STRESS_MESSAGES=2000000 BCAST_STRESS_TINY_MESSAGES=500000 BCAST_STRESS_GATED_MESSAGES=2000000 BCAST_STRESS_TIMEOUT=30"
    [test-crash]="BCAST_CRASH_ROUNDS=300 BCAST_CRASH_TIMEOUT=30"
    [test-threads]="BCAST_THREADS_MESSAGES=500000 BCAST_THREADS_TIMEOUT=30"
    [test-owner]="BCAST_RACE_ROUNDS=100"
    [test-wait]="BCAST_PINGPONG_CYCLES=20000"
    [test-accounting]="BCAST_ACCOUNTING_MESSAGES=200000"
    [test-poller]="BCAST_POLLER_CYCLES=1000"
)
# The long multi-process programs, left out of every CPU model but the
# first (they are about processes and crashes, not about the atomics).
LONG=(test-stress test-crash test-threads)

usage() {
    cat <<EOF
usage: $PROG [--build-only | --no-build] [--list] [TEST...]

Cross-builds the library (static and shared) and tests/test-*.c for aarch64
into $OUT with
  make O=$OUT CC=$CROSS LDFLAGS=-static lib tests
(static programs: qemu needs no aarch64 sysroot and no dynamic loader),
then runs each test program under qemu-aarch64, passes its TAP output
through, prints "arm64: N passed, N failed" and exits 1 if anything failed.
TEST names a program (test-wait or wait); default: every tests/test-*.c.

Each program runs once per CPU model in BCAST_ARM64_CPUS (default
"max cortex-a53": with LSE atomics, and ARMv8.0 without them, where the
outline atomics take their LDAXR/STLXR loops), except the long ones
(${LONG[*]}), which run on the first model only.
Scaled down for the emulator:
$(for t in "${!SCALED[@]}"; do printf '  %s: %s\n' "$t" "${SCALED[$t]}"; done | sort)
As root each program runs in pid and mount namespaces of its own, with
private /tmp and /dev/shm (it cannot meet the host's rings, and what it
leaves behind, files or processes, is listed and goes away with it).

  --build-only   build and check the binaries, run nothing
  --no-build     run what is already in $OUT
  --list         print the programs, CPU models and environment; run nothing
  -h, --help     this text

Environment: QEMU (default: qemu-aarch64, else qemu-aarch64-static),
BCAST_ARM64_CPUS, BCAST_ARM64_TIMEOUT (seconds per program, default 60),
BCAST_ARM64_JOBS (make -j), BCAST_ARM64_OUT, BCAST_ARM64_CC; the sizes
above give way to values already set (BCAST_RACE_ROUNDS=1000 ...).
Packages (Debian 12): gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user.
EOF
}

die() { echo "$PROG: $*" >&2; exit 2; }

BUILD=1 RUN=1 LIST=0
SELECT=()
while [ $# -gt 0 ]; do
    case $1 in
    -h|--help) usage; exit 0 ;;
    --build-only) RUN=0 ;;
    --no-build) BUILD=0 ;;
    --list) LIST=1 ;;
    --) shift; SELECT+=("$@"); break ;;
    -*) die "unknown option '$1' (see --help)" ;;
    *) SELECT+=("$1") ;;
    esac
    shift
done
[ "$BUILD" = 0 ] && [ "$RUN" = 0 ] && die "--build-only and --no-build leave nothing to do"
case $LIMIT in ''|*[!0-9]*|0) die "BCAST_ARM64_TIMEOUT must be a positive number of seconds, not '$LIMIT'" ;; esac
case $JOBS in ''|*[!0-9]*|0) die "BCAST_ARM64_JOBS must be a positive number, not '$JOBS'" ;; esac
[ -n "${CPUS// /}" ] || die "BCAST_ARM64_CPUS is empty: name at least one CPU model (qemu-aarch64 -cpu help)"
FIRST_CPU=${CPUS%% *}

# --- the programs: every tests/test-*.c -------------------------------------
ALL=()
for src in tests/test-*.c; do
    [ -e "$src" ] || die "no tests/test-*.c in $(pwd)"
    ALL+=("$(basename "$src" .c)")
done
TESTS=()
if [ ${#SELECT[@]} -eq 0 ]; then
    TESTS=("${ALL[@]}")
else
    for want in "${SELECT[@]}"; do
        want=${want##*/}; want=${want%.c}
        [ "${want#test-}" = "$want" ] && want=test-$want
        [ -e "tests/$want.c" ] || die "no such test program: '$want' (there is no tests/$want.c)"
        TESTS+=("$want")
    done
fi

is_long() {
    local l
    for l in "${LONG[@]}"; do [ "$l" = "$1" ] && return 0; done
    return 1
}
cpus_of() { if is_long "$1"; then echo "$FIRST_CPU"; else echo "$CPUS"; fi; }

if [ "$LIST" = 1 ]; then
    for t in "${TESTS[@]}"; do
        c=$(cpus_of "$t")
        printf '%-16s -cpu %-18s %s\n' "$t" "${c// /,}" "${SCALED[$t]:-}"
    done
    exit 0
fi

# --- tools ------------------------------------------------------------------
if [ -z "$QEMU" ]; then
    QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static) ||
        die "qemu-aarch64 not found: apt-get install qemu-user (make check installs it when run as root), or set QEMU"
fi
command -v "$QEMU" >/dev/null || die "QEMU=$QEMU: no such program"
command -v timeout >/dev/null || die "timeout (coreutils) not found"
READELF=${CROSS%gcc}readelf
command -v "$READELF" >/dev/null || READELF=readelf
command -v "$READELF" >/dev/null || die "no readelf ($READELF, binutils) to check the binaries"
if [ "$BUILD" = 1 ]; then
    command -v make >/dev/null || die "make not found (apt-get install make)"
    command -v "$CROSS" >/dev/null ||
        die "$CROSS not found: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross (make check installs them when run as root), or set BCAST_ARM64_CC"
    libc_a=$("$CROSS" -print-file-name=libc.a)
    [ -f "$libc_a" ] ||
        die "$CROSS has no static C library (libc.a, needed for -static): apt-get install libc6-dev-arm64-cross"
fi

# --- build ------------------------------------------------------------------
BINS=()
for t in "${TESTS[@]}"; do BINS+=("$OUT/tests/$t"); done
PROBE=$OUT/probe

# An aarch64 executable without a program interpreter (static).
is_static_arm64() {
    [ -x "$1" ] &&
        LC_ALL=C "$READELF" -h "$1" 2>/dev/null | grep -q 'Machine:.*AArch64' &&
        ! LC_ALL=C "$READELF" -l "$1" 2>/dev/null | grep -q 'INTERP'
}

fail_build() {
    tap_not_ok "arm64 cross build: $*"
    tap_summary arm64
    exit 1
}

if [ "$BUILD" = 1 ]; then
    mkdir -p "$OUT" || die "cannot create $OUT"
    log=$OUT/build.log
    echo "# arm64: make -j$JOBS O=$OUT CC=$CROSS LDFLAGS=-static lib tests ($("$CROSS" -dumpfullversion 2>/dev/null || "$CROSS" -dumpversion))"
    # LDFLAGS is no prerequisite: make would keep a program linked
    # otherwise (dynamic, or for another machine), so drop it.
    for b in "${BINS[@]}" "$PROBE"; do
        [ -e "$b" ] && ! is_static_arm64 "$b" && rm -f "$b"
    done
    if ! make -j"$JOBS" O="$OUT" CC="$CROSS" LDFLAGS=-static lib "${BINS[@]}" >"$log" 2>&1; then
        grep -E 'error|warning|Error' "$log" | head -n 20 | sed 's/^/# /'
        fail_build "make failed (log: $log)"
    fi
    # The Makefile compiles with -Werror; this shows what the linker says
    # (a static link warns about NSS functions, for instance).
    grep -i 'warning' "$log" | sed 's/^/# arm64: build: /'
    for b in "${BINS[@]}"; do
        is_static_arm64 "$b" || fail_build "$b is not a static aarch64 executable (log: $log)"
    done
    "$CROSS" -std=c11 -O2 -Wall -Wextra -Werror -static -o "$PROBE" tests/arm64/probe.c >>"$log" 2>&1 ||
        fail_build "tests/arm64/probe.c (log: $log)"
else
    for b in "${BINS[@]}" "$PROBE"; do
        is_static_arm64 "$b" || die "--no-build: $b is missing or not a static aarch64 program (run $PROG --build-only)"
    done
fi
[ "$RUN" = 1 ] || { echo "# arm64: built ${#BINS[@]} programs in $OUT"; exit 0; }

# --- the emulator -----------------------------------------------------------
echo "# arm64: $("$QEMU" --version 2>/dev/null | head -n 1)"
for cpu in $CPUS; do
    hw=$("$QEMU" -cpu "$cpu" "$PROBE" hwcap 2>&1) ||
        die "$QEMU -cpu $cpu cannot run $PROBE: $hw (CPU models: $QEMU -cpu help)"
    echo "# arm64: -cpu $cpu: $hw"
done
# What a process reads in its own /proc/PID/stat (the library's writer
# identity is pid + start time): see probe.c.
stat_line=$("$QEMU" "$PROBE" proc-stat 2>&1)
case $? in
0) echo "# arm64: $stat_line: as on a kernel" ;;
1) echo "# arm64: emulation differs: $stat_line: qemu-user answers a process's own /proc/self/stat and /proc/<own pid>/stat itself, with qemu's start time" ;;
*) echo "# arm64: proc-stat probe failed: $stat_line" ;;
esac

# --- running ----------------------------------------------------------------
FAILURES=()
TMP=$(mktemp -d) || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT

ISOLATE=0
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    ISOLATE=1
else
    echo "# arm64: not root (or no unshare): programs share the host's /tmp and /dev/shm"
fi
# pid 1 of the namespace: mount the private directories, run the program,
# then list what it left; when this shell exits every process left goes.
# shellcheck disable=SC2016 # expanded by that shell
ISOLATED='mount -t tmpfs -o mode=1777 bcast-arm64 /tmp &&
    mount -t tmpfs -o mode=1777 bcast-arm64 /dev/shm || exit 125
"$@"; rc=$?
for f in /tmp/* /tmp/.[!.]* /dev/shm/*; do
    [ -e "$f" ] && echo "# arm64: left behind: $f"
done
for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = 1 ] || [ ! -e "$d/stat" ] ||
        echo "# arm64: left running: pid ${d#/proc/} ($(tr "\\0" " " <"$d/cmdline" 2>/dev/null)), state $(cut -d" " -f3 "$d/stat" 2>/dev/null): killed"
done
exit $rc'

describe_status() {
    if [ "$1" = 124 ]; then echo "timed out after ${LIMIT}s (BCAST_ARM64_TIMEOUT)"
    elif [ "$1" = 125 ] && [ "$ISOLATE" = 1 ]; then echo "could not mount its private /tmp and /dev/shm"
    elif [ "$1" -gt 128 ]; then echo "killed by signal $(kill -l $(($1 - 128)) 2>/dev/null || echo $(($1 - 128)))"
    else echo "exit status $1"
    fi
}

run_one() {
    local t=$1 cpu=$2 out=$TMP/out w status start secs hp_before hp_after
    local plan results why failed
    local -a envv=() cmd
    for w in ${SCALED[$t]:-}; do
        [ -n "$(printenv "${w%%=*}")" ] || envv+=("$w")   # the environment wins
    done
    echo "# arm64: $t -cpu $cpu${envv[*]:+ ${envv[*]}}"
    cmd=("$QEMU" -cpu "$cpu" "$OUT/tests/$t")
    [ "$ISOLATE" = 1 ] &&
        cmd=(unshare --pid --fork --kill-child --mount-proc --propagation private sh -c "$ISOLATED" sh "${cmd[@]}")
    hp_before=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null)
    start=$(date +%s.%N)
    env "${envv[@]}" timeout --kill-after=5 "$LIMIT" "${cmd[@]}" >"$out" 2>&1 </dev/null
    status=$?
    secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    cat "$out"

    plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$out" | head -n 1)
    results=$(grep -Ec '^(not )?ok ' "$out")
    # Its own results: the status is judged below.
    tap_count_log "$out" 0
    # The program must run to its end and give every result it planned;
    # exit status 1 is the harness saying some subtest failed.
    why=""
    if [ "$status" != 0 ] && { [ "$status" != 1 ] || [ "$LOG_FAILED" = 0 ]; }; then
        why=$(describe_status "$status")
    elif [ -z "$plan" ]; then
        why="no TAP plan"
    elif [ "$results" != "$plan" ]; then
        why="$results results for plan 1..$plan"
    fi
    failed=$LOG_FAILED
    TAP_PASSED=$((TAP_PASSED + LOG_PASSED)) TAP_FAILED=$((TAP_FAILED + LOG_FAILED))
    if [ -n "$why" ]; then
        tap_not_ok "$t (-cpu $cpu): $why"
        failed=$((failed + 1))
    fi
    [ "$failed" = 0 ] || FAILURES+=("$t -cpu $cpu: $(grep '^not ok' "$out" | sed 's/^not ok [0-9]* - //' | paste -sd, -)${why:+ ($why)}")
    echo "# arm64: $t -cpu $cpu: ${secs}s, $LOG_PASSED passed, $failed failed"

    # vm.nr_hugepages is not namespaced: put back what a program changed.
    hp_after=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null)
    if [ "$(id -u)" = 0 ] && [ -n "$hp_before" ] && [ "$hp_after" != "$hp_before" ]; then
        echo "$hp_before" >/proc/sys/vm/nr_hugepages
        echo "# arm64: $t left vm.nr_hugepages at $hp_after; restored to $hp_before"
    fi
}

STAGE_START=$(date +%s)
for cpu in $CPUS; do
    for t in "${TESTS[@]}"; do
        if is_long "$t" && [ "$cpu" != "$FIRST_CPU" ]; then
            continue
        fi
        run_one "$t" "$cpu"
    done
done

echo "# arm64: ran in $(( $(date +%s) - STAGE_START ))s"
for f in ${FAILURES[@]+"${FAILURES[@]}"}; do echo "# arm64: failed: $f"; done
tap_summary arm64
