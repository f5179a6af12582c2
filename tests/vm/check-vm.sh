#!/usr/bin/env bash
# The VM half of `make check` (and what tests/vm/run.sh runs when given
# nothing to run): boot a Debian kernel under qemu with bcast.ko built for it,
# and run there: the library tests (futex, membarrier, hugetlbfs
# and shm as that kernel does them), the kselftest device tests, the
# ioctl/mmap fuzzer, and the load/unload cycles.
# Usage: tests/vm/check-vm.sh [--kernel 6.1|6.12]
set -u -o pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh
KERNEL=6.1
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel) [ $# -ge 2 ] || { echo "check-vm: --kernel needs a value" >&2; exit 2; }
                  KERNEL=$2; shift 2 ;;
        -h|--help) echo "usage: tests/vm/check-vm.sh [--kernel 6.1|6.12]"; exit 0 ;;
        *) echo "check-vm: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

# give_up WHAT: the stage cannot run, said as its verdict.
give_up() {
    tap_not_ok "vm($KERNEL): $*"
    tap_summary "vm($KERNEL)"
    exit 1
}

missing=()
[ -f /usr/src/linux-source-6.1.tar.xz ] || missing+=(linux-source-6.1)	# kselftest harness
command -v sparse >/dev/null || missing+=(sparse)	# for the module build
[ -f /usr/include/liburing.h ] || missing+=(liburing-dev)	# the io_uring tests
install_packages check-vm ${missing[@]+"${missing[@]}"} ||
    give_up "the packages it needs are missing"

# Library tests that run in the guest; the long stress runs stay on the host.
LIB_TESTS="test-basic test-ring test-writer test-reader test-batch test-corrupt test-wait test-owner test-accounting test-poller test-notify-async test-registry test-gated"
DEVICE_TESTS="test-device test-library test-poll test-wait-ioctl test-uring-poll test-uring-cmd test-open-reader test-pin test-notify test-uring-notify test-memcg test-hardening test-containers test-poller-device test-races test-registry-device test-ioctl-fuzz test-module-cycles"
# The command-line tools against device rings (bare names: the module is loaded).
TOOLS="bcastctl bcast-pub bcast-sub bcast-bench"
TOOL_TESTS=$(cd tests/tools && echo test-*.sh)
work=$(mktemp -d "${TMPDIR:-/tmp}/bcast-check-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT

make -s lib tests tools examples vmtests >"$work/build.log" 2>&1 ||
    { tail -n 30 "$work/build.log"; give_up "building the tests failed"; }

adds=()
# brd (the ramdisk /dev/ram0) for test-pin's O_DIRECT case, uncompressed
# for busybox insmod; without it that case is skipped and says so.
krel=$(bash tests/vm/run.sh --kernel "$KERNEL" --print-release 2>/dev/null)
for brd in /lib/modules/"$krel"/kernel/drivers/block/brd.ko{,.xz,.zst}; do
    [ -n "$krel" ] && [ -f "$brd" ] || continue
    case "$brd" in
        *.xz) xz -dc "$brd" >"$work/brd.ko" ;;
        *.zst) zstd -qdc "$brd" >"$work/brd.ko" ;;
        *) cp "$brd" "$work/brd.ko" ;;
    esac && adds+=(--add "$work/brd.ko")
    break
done
for t in $LIB_TESTS test-stress; do adds+=(--add "build/tests/$t"); done
for t in $DEVICE_TESTS; do adds+=(--add "build/vm/$t"); done
for t in $TOOLS; do adds+=(--add "build/tools/$t"); done
adds+=(--add tools/demo.sh --add build/examples)
for t in $TOOL_TESTS; do adds+=(--add "tests/tools/$t"); done
cat >"$work/run-tests" <<SCRIPT
#!/bin/sh
# Runs inside the VM: every test program (TAP), non-zero on any failure.
status=0
# The shm round trips run 100,000 times on the host; emulated CPUs make
# them slow here, where the device's 100,000 are the ones that count.
export BCAST_PINGPONG_CYCLES=20000
# Asynchronous wake-ups (shm and device), the poller's device rings
# (through io_uring) and the device's io_uring cycles (POLL_ADD, the WAIT
# command): 100,000 sleep/wake cycles each, as on the host.  The poller's
# shm ping-pongs (futex_waitv(), io_uring and epoll with threads) are the
# host's to count 100,000 times: 20,000 here (at 100,000 they took a
# third of each kernel's stage).
export BCAST_ASYNC_CYCLES=100000 BCAST_POLLER_CYCLES=20000
export BCAST_URING_CYCLES=100000 BCAST_POLLER_DEVICE_CYCLES=100000
# Ownership races and saturated accounting, scaled to emulated CPUs.
export BCAST_RACE_ROUNDS=100 BCAST_ACCOUNTING_MESSAGES=100000
# Emulated CPUs take longer to fall asleep: writers that publish "a
# little later" (tests/helpers/order-writer.h) wait longer.
export BCAST_ORDER_DELAY_US=150
# took WHAT: the seconds since the last mark, for the log.
mark=\$(date +%s)
took() {
    now=\$(date +%s)
    echo "# \$1 took \$((now - mark)) s"
    mark=\$now
}
for t in $LIB_TESTS $DEVICE_TESTS; do
    echo "# \$t on \$(uname -r)"
    if [ "\$t" = test-device ]; then
        BCAST_PINGPONG_CYCLES=100000 ./\$t || status=1
    else
        ./\$t || status=1
    fi
    took \$t
done
# Gated rings on bcast.ko: the library's tests, and the three-reader
# stress (2 million messages, checksums, no loss) on a device ring; the
# host runs the 10 million on shm.
echo "# test-gated on device rings, \$(uname -r)"
BCAST_GATED_DEVICE=1 ./test-gated || status=1
took "test-gated (device)"
echo "# test-stress: gated, on a device ring, \$(uname -r)"
BCAST_TESTS=stress_gated_ring_loses_nothing BCAST_STRESS_DEVICE=1 \
    BCAST_STRESS_GATED_MESSAGES=\${BCAST_VM_GATED_MESSAGES:-2000000} \
    BCAST_STRESS_GATED_SLOW_US=10000 ./test-stress || status=1
took "test-stress (gated, device)"
for t in $TOOL_TESTS; do
    echo "# tools/\$t on \$(uname -r)"
    BCAST_TOOLS=/opt BCAST_EXAMPLES=/opt/examples BCAST_TEST_PREFIX=vm-\${t%.sh} \
        sh ./\$t || status=1
    took tools/\$t
done
exit \$status
SCRIPT
chmod +x "$work/run-tests"
# run.sh builds bcast.ko for the booted kernel (with sparse) and loads it.
bash tests/vm/run.sh --kernel "$KERNEL" --timeout 2400 \
    "${adds[@]}" --add "$work/run-tests"
exit $?
