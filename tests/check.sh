#!/usr/bin/env bash
# make check: install what is missing, build, run every host test (normal,
# ASan+UBSan, TSan, arm64 under qemu-user, fuzz), the packaging tests
# (install/uninstall, manual pages, DKMS, Debian packages) and the VM tests
# on Debian's 6.1 and 6.12 kernels, then print "N passed, N failed".
#
# Environment: BCAST_CHECK_QUICK=1 skips the sanitizer builds, arm64, the
# fuzzer and the VM (for a fast local loop); BCAST_FUZZ_SECONDS (default 60);
# BCAST_VM_KERNELS (default "6.1 6.12").
set -u -o pipefail
cd "$(dirname "$0")/.."
. tests/lib.sh

LOGDIR=${BCAST_LOGDIR:-build/check}
mkdir -p "$LOGDIR"

say() { printf '== %s\n' "$*"; }

need_packages() {
    local missing=()
    command -v cc >/dev/null || missing+=(gcc)
    command -v make >/dev/null || missing+=(make)
    command -v clang >/dev/null || missing+=(clang)
    pkg_installed libclang-rt-14-dev || missing+=(libclang-rt-14-dev)
    # bcast-bench's ZeroMQ baseline and --plot; the tool tests parse JSON.
    pkg_installed libzmq3-dev || missing+=(libzmq3-dev)
    # The device tests of io_uring use liburing (the library does not).
    [ -f /usr/include/liburing.h ] || missing+=(liburing-dev)
    command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
    command -v python3 >/dev/null || missing+=(python3)
    # The arm64 stage: a cross compiler, its C library (only recommended by
    # the compiler, so not installed without it) and qemu-user's
    # qemu-aarch64 (static test programs need no binfmt or aarch64 sysroot).
    command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
    pkg_installed libc6-dev-arm64-cross || missing+=(libc6-dev-arm64-cross)
    command -v qemu-aarch64 >/dev/null || command -v qemu-aarch64-static >/dev/null ||
        missing+=(qemu-user)
    # bcast-bridge: the NATS client library, and the servers its tests run.
    [ -f /usr/include/nats/nats.h ] || missing+=(libnats-dev)
    command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] ||
        missing+=(nats-server)
    command -v openssl >/dev/null || missing+=(openssl)	# its TLS test's certificates
    # The models of writer ownership and the wake-up handshake.
    command -v spin >/dev/null || missing+=(spin)
    # Packaging: the manual pages' lint, pkg-config, DKMS, the Debian
    # packages and their clean-root install, the udev daemon for the VM.
    command -v mandoc >/dev/null || missing+=(mandoc)
    command -v pkg-config >/dev/null || missing+=(pkgconf)
    local p
    for p in dkms dh-dkms debhelper dpkg-dev fakeroot lintian debootstrap udev; do
        pkg_installed "$p" || missing+=("$p")
    done
    install_packages check ${missing[@]+"${missing[@]}"}
}

build() {
    local name=$1 log="$LOGDIR/build-$1.log" status
    shift
    say "build $name"
    make -j2 "$@" >"$log" 2>&1
    status=$?
    [ $status -eq 0 ] || tail -n 30 "$log"
    record "build $name" "$status" "$log"
    return $status
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

# bcast-bridge through NATS clusters on 127.0.0.1: the cluster script's own
# tests, core NATS, JetStream.  Message counts scaled by the caller.
bridge_tests() {
    local dir=$1 label=$2
    [ "$label" != host ] || run "$label bridge nats-cluster" 600 bash tests/bridge/test-nats-cluster.sh
    run "$label bridge core" 900 env BCAST_TOOLS="$dir/tools" \
        BCAST_BRIDGE_CHECK="$dir/tests/bridge/bridge-check" bash tests/bridge/test-bridge.sh
    run "$label bridge jetstream" 900 env BCAST_TOOLS="$dir/tools" \
        BCAST_BRIDGE_CHECK="$dir/tests/bridge/bridge-check" bash tests/bridge/test-bridge-jetstream.sh
    run "$label bridge tls, auth" 300 env BCAST_TOOLS="$dir/tools" \
        BCAST_BRIDGE_CHECK="$dir/tests/bridge/bridge-check" bash tests/bridge/test-bridge-auth.sh
}

need_packages 2>&1 | tee "$LOGDIR/packages.log"
status=${PIPESTATUS[0]}
record packages "$status" "$LOGDIR/packages.log"
if [ "$status" -ne 0 ]; then
    tap_summary
    exit 1
fi

if build default all tests; then
    say "host tests"
    host_tests build host
    say "bcast-bridge through NATS"
    bridge_tests build host
    say "installing: make install/uninstall, manual pages"
    run "install" 600 bash tests/install/test-install.sh
    run "man pages" 600 env BCAST_TOOLS=build/tools sh tests/man/test-manpages.sh
fi

if [ -z "${BCAST_CHECK_QUICK:-}" ]; then
    # The whole suite under ASan + UBSan; the long runs are scaled down.
    if build asan O=build/asan SAN=address,undefined CC=clang lib tools examples tests; then
        say "host tests under ASan+UBSan"
        BCAST_STRESS_MESSAGES=${BCAST_ASAN_STRESS_MESSAGES:-2000000} \
        BCAST_STRESS_GATED_MESSAGES=${BCAST_ASAN_STRESS_MESSAGES:-2000000} \
        BCAST_CRASH_ROUNDS=${BCAST_ASAN_CRASH_ROUNDS:-200} \
        BCAST_THREADS_MESSAGES=${BCAST_ASAN_THREADS_MESSAGES:-500000} \
        BCAST_RACE_ROUNDS=${BCAST_ASAN_RACE_ROUNDS:-200} \
        BCAST_ACCOUNTING_MESSAGES=${BCAST_ASAN_ACCOUNTING_MESSAGES:-200000} \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            host_tests build/asan asan
        BCAST_BRIDGE_MESSAGES=${BCAST_ASAN_BRIDGE_MESSAGES:-200000} \
        BCAST_BRIDGE_JS_MESSAGES=${BCAST_ASAN_BRIDGE_MESSAGES:-200000} \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            bridge_tests build/asan asan
    fi
    # The non-lapping multi-threaded stress, the poller with its helper
    # threads and the gated writer blocked in a thread, under ThreadSanitizer.
    if build tsan O=build/tsan SAN=thread CC=clang build/tsan/tests/test-threads \
        build/tsan/tests/test-poller build/tsan/tests/test-gated; then
        say "ThreadSanitizer"
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
            run "tsan test-threads" 900 build/tsan/tests/test-threads
        BCAST_POLLER_CYCLES=${BCAST_TSAN_POLLER_CYCLES:-20000} \
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
            run "tsan test-poller" 900 build/tsan/tests/test-poller
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
            run "tsan test-gated" 900 build/tsan/tests/test-gated
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

    # DKMS builds bcast.ko for every installed kernel (the VM boots those
    # with udevd); the Debian packages, lintian and a clean-root install.
    say "packaging: DKMS, Debian packages"
    run "dkms" 900 bash tests/install/test-dkms.sh build/dkms
    run "deb" 1200 bash tests/install/test-deb.sh

    say "VM tests"
    for k in ${BCAST_VM_KERNELS:-6.1 6.12}; do
        run "vm $k" 1800 bash tests/vm/check-vm.sh --kernel "$k"
        krel=$(bash tests/vm/run.sh --kernel "$k" --print-release 2>/dev/null)
        run "vm $k udev, DKMS-built module" 900 bash tests/vm/udev/test-udev.sh \
            --kernel "$k" --module "build/dkms/modules/$krel/bcast.ko"
    done
fi

say "summary"
for f in ${STEP_FAILURES[@]+"${STEP_FAILURES[@]}"}; do echo "   failed: $f"; done
tap_summary
