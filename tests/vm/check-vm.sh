#!/usr/bin/env bash
# The VM half of `make check`: boot a Debian kernel and run the library's
# tests there (futex, membarrier, hugetlbfs and shm behave per kernel).
# Usage: tests/vm/check-vm.sh [--kernel 6.1|6.12]
set -u -o pipefail
cd "$(dirname "$0")/../.."
KERNEL=6.1
while [ $# -gt 0 ]; do
    case "$1" in
        --kernel) KERNEL=$2; shift 2 ;;
        -h|--help) echo "usage: tests/vm/check-vm.sh [--kernel 6.1|6.12]"; exit 0 ;;
        *) echo "check-vm: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

# Tests that run in the guest; the long stress runs stay on the host.
GUEST_TESTS="test-basic test-ring test-writer test-reader test-batch test-corrupt test-wait"
work=$(mktemp -d "${TMPDIR:-/tmp}/bcast-check-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT

make -s lib tests >/dev/null || { echo "check-vm: build failed" >&2; exit 1; }
adds=()
for t in $GUEST_TESTS; do
    adds+=(--add "tests/$t")
done
cat >"$work/run-tests" <<SCRIPT
#!/bin/sh
# Runs inside the VM: every test program, TAP output, non-zero on failure.
status=0
export BCAST_PINGPONG_CYCLES=\${BCAST_PINGPONG_CYCLES:-100000}
for t in $GUEST_TESTS; do
    echo "# \$t on \$(uname -r)"
    ./\$t || status=1
done
exit \$status
SCRIPT
chmod +x "$work/run-tests"
exec bash tests/vm/run.sh --kernel "$KERNEL" --timeout 1500 "${adds[@]}" \
    --add "$work/run-tests"
