#!/bin/sh
# make demo, shortened: it runs, both subscribers get every message the
# publisher sent with no gaps, latency figures are printed, the ring is gone
# afterwards.  Host (shm) and VM (device).  TAP output.
T=${BCAST_TOOLS:-$(dirname "$0")/../../build/tools}
DEMO=$T/demo.sh
[ -f "$DEMO" ] || DEMO=$(dirname "$0")/../../tools/demo.sh
work=$(mktemp -d "${TMPDIR:-/tmp}/bcast-test-demo.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
n=0
failed=0
echo "1..6"

result() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

BCAST_TOOLS=$T BCAST_DEMO_SECONDS=2 BCAST_DEMO_RATE=${BCAST_TEST_DEMO_RATE:-20k} \
    sh "$DEMO" >"$work/out" 2>&1
st=$?
result $st "the demo exits 0"
[ $st -eq 0 ] || sed 's/^/# /' "$work/out" | tail -n 30

sent=$(sed -n 's/^bcast-pub: \([0-9]*\) messages.*/\1/p' "$work/out")
spin=$(sed -n 's/^spinning: \([0-9]*\) msgs.*/\1/p' "$work/out")
block=$(sed -n 's/^blocking: \([0-9]*\) msgs.*/\1/p' "$work/out")
[ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$spin" = "$sent" ] && [ "$block" = "$sent" ]
result $? "both subscribers got all $sent messages (spinning $spin, blocking $block)"

[ "$(grep -c 'seq gaps 0' "$work/out")" -eq 2 ] &&
    [ "$(grep -c 'overruns 0, lost 0 msgs' "$work/out")" -eq 2 ]
result $? "no sequence gaps, no overruns"

grep -q '^spinning: latency us p50 [0-9.]* p90 .* max ' "$work/out" &&
    grep -q '^blocking: latency us p50 [0-9.]* p90 .* max ' "$work/out"
result $? "latency percentiles for each subscriber"

cpus=$(nproc 2>/dev/null || echo 1)
grep -q "^layout: $cpus CPU" "$work/out"
result $? "the demo says how it placed its processes on the $cpus CPUs"

ring=$(sed -n 's/^== ring \([^:]*\(:[^:]*\)\{0,1\}\): .*/\1/p' "$work/out" | head -n 1)
[ -n "$ring" ] && ! "$T/bcastctl" info "$ring" >/dev/null 2>&1
result $? "the demo's ring ($ring) was removed"

echo "# $((n - failed)) of $n passed"
[ $failed -eq 0 ]
