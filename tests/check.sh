#!/usr/bin/env bash
# make check: install what is missing, build, run every host test (normal,
# ASan+UBSan, TSan, arm64 under qemu-user, fuzz) and the VM tests on Debian's
# 6.1 and 6.12 kernels, then print "N passed, N failed".
#
# Environment: BCAST_CHECK_QUICK=1 skips the sanitizer builds, arm64, the
# fuzzer and the VM (for a fast local loop); BCAST_FUZZ_SECONDS (default 60);
# BCAST_VM_KERNELS (default "6.1 6.12").
set -u -o pipefail
cd "$(dirname "$0")/.."

LOGDIR=${BCAST_LOGDIR:-build/check}
mkdir -p "$LOGDIR"
PASSED=0
FAILED=0
FAILURES=()

say() { printf '== %s\n' "$*"; }

need_packages() {
    local missing=()
    command -v cc >/dev/null || missing+=(gcc)
    command -v make >/dev/null || missing+=(make)
    command -v clang >/dev/null || missing+=(clang)
    dpkg -s libclang-rt-14-dev >/dev/null 2>&1 || missing+=(libclang-rt-14-dev)
    # bcast-bench's ZeroMQ baseline and --plot; the tool tests parse JSON.
    dpkg -s libzmq3-dev >/dev/null 2>&1 || missing+=(libzmq3-dev)
    command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
    command -v python3 >/dev/null || missing+=(python3)
    # The arm64 stage: a cross compiler, its C library (only recommended by
    # the compiler, so not installed without it) and qemu-user's
    # qemu-aarch64 (static test programs need no binfmt or aarch64 sysroot).
    command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
    dpkg -s libc6-dev-arm64-cross >/dev/null 2>&1 || missing+=(libc6-dev-arm64-cross)
    command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null ||
        missing+=(qemu-user)
    # The models of writer ownership and the wake-up handshake.
    command -v spin >/dev/null || missing+=(spin)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "check: missing packages: ${missing[*]} (run as root to install them)" >&2
        return 1
    fi
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends "${missing[@]}" >/dev/null
}

# Count a step from its log: TAP lines if it has any, else its last
# "N passed, N failed" line, else its exit status.
record() {
    local name=$1 status=$2 log=$3 ok notok line
    ok=$(grep -c '^ok ' "$log")
    # TAP: a "not ok ... # TODO" is an expected failure, not a failure.
    notok=$(grep '^not ok ' "$log" | grep -vc '# TODO')
    if [ "$ok" -eq 0 ] && [ "$notok" -eq 0 ]; then
        line=$(grep -E '([[:alnum:]()._-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
        if [ -n "$line" ]; then
            ok=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
            notok=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\3/' <<<"$line")
        elif [ "$status" -eq 0 ]; then
            ok=1
        fi
    fi
    if [ "$status" -ne 0 ] && [ "$notok" -eq 0 ]; then
        notok=1
    fi
    PASSED=$((PASSED + ok))
    FAILED=$((FAILED + notok))
    if [ "$notok" -ne 0 ]; then
        FAILURES+=("$name (log: $log)")
        printf '   FAIL %s: %d passed, %d failed (exit %d)\n' "$name" "$ok" "$notok" "$status"
        grep -E '^not ok|^# .*(failed|expected)|ERROR|runtime error|Sanitizer' "$log" | head -n 20 | sed 's/^/      /'
    else
        printf '   ok   %s: %d passed\n' "$name" "$ok"
    fi
}

# run NAME TIMEOUT CMD...: run a step with a time limit, log and record it.
run() {
    local name=$1 limit=$2 log status start
    shift 2
    log="$LOGDIR/$(tr '/ ' '__' <<<"$name").log"
    start=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 </dev/null
    status=$?
    [ $status -eq 124 ] && echo "check: $name timed out after ${limit}s" >>"$log"
    grep '^# ' "$log" | head -n 8 | sed 's/^/   /'
    record "$name [$((SECONDS - start))s]" "$status" "$log"
}

build() {
    local name=$1 log="$LOGDIR/build-$1.log"
    shift
    say "build $name"
    if ! make -j2 "$@" >"$log" 2>&1; then
        tail -n 30 "$log"
        record "build $name" 1 "$log"
        return 1
    fi
}

host_tests() {
    local dir=$1 label=$2 t
    for t in "$dir"/tests/test-*; do
        [ -x "$t" ] || continue
        run "$label $(basename "$t")" 900 "$t"
    done
    # The command-line tools, against shm rings (the VM runs them on the device).
    for t in tests/tools/test-*.sh; do
        run "$label tools/$(basename "$t" .sh)" 900 env BCAST_TOOLS="$dir/tools" sh "$t"
    done
}

need_packages || { echo "0 passed, 1 failed"; exit 1; }

if build default all tests; then
    say "host tests"
    host_tests build host
fi

if [ -z "${BCAST_CHECK_QUICK:-}" ]; then
    # The whole suite under ASan + UBSan; the long runs are scaled down.
    if build asan O=build/asan SAN=address,undefined CC=clang lib tools tests; then
        say "host tests under ASan+UBSan"
        BCAST_STRESS_MESSAGES=${BCAST_ASAN_STRESS_MESSAGES:-2000000} \
        BCAST_CRASH_ROUNDS=${BCAST_ASAN_CRASH_ROUNDS:-200} \
        BCAST_THREADS_MESSAGES=${BCAST_ASAN_THREADS_MESSAGES:-500000} \
        BCAST_RACE_ROUNDS=${BCAST_ASAN_RACE_ROUNDS:-200} \
        BCAST_ACCOUNTING_MESSAGES=${BCAST_ASAN_ACCOUNTING_MESSAGES:-200000} \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            host_tests build/asan asan
    fi
    # The non-lapping multi-threaded stress under ThreadSanitizer.
    if build tsan O=build/tsan SAN=thread CC=clang build/tsan/tests/test-threads; then
        say "ThreadSanitizer"
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
            run "tsan test-threads" 900 build/tsan/tests/test-threads
    fi
    # The library and the unit tests cross-built for arm64, run under
    # qemu-aarch64: functional only (the emulator keeps the host's memory
    # ordering; README.md's ordering argument is the proof).
    say "arm64 unit tests under qemu-user"
    run "arm64 unit tests" 900 bash tests/arm64/run.sh
    # Writer ownership and the wake-up handshake, every interleaving.
    say "model checking (spin)"
    run "models" 900 bash tests/model/run.sh
    say "fuzzing the reader for ${BCAST_FUZZ_SECONDS:-60}s"
    BCAST_FUZZ_STRICT=1 run "fuzz fuzz-reader" 900 bash tests/fuzz/run.sh "${BCAST_FUZZ_SECONDS:-60}"

    say "VM tests"
    for k in ${BCAST_VM_KERNELS:-6.1 6.12}; do
        run "vm $k" 1800 bash tests/vm/check-vm.sh --kernel "$k"
    done
fi

say "summary"
for f in "${FAILURES[@]}"; do echo "   failed: $f"; done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
