#!/bin/sh
# make demo (and, inside the VM with bcast.ko loaded, make vm-demo): create a
# ring (the device when the module is loaded, else POSIX shared memory), run
# a synthetic market-data publisher for a few seconds with two subscribers,
# one spinning and one blocked in bcast_wait(), print what each got (messages,
# rate, one-way latency percentiles, overruns) and remove the ring.
#
# Environment: BCAST_TOOLS (where bcastctl, bcast-pub, bcast-sub are;
# default: this script's directory if they are there, else build/tools),
# BCAST_DEMO_SECONDS (5),
# BCAST_DEMO_RATE (messages/s; 100k with 4 CPUs or more, else 20k),
# BCAST_DEMO_SIZE (bytes, 64).
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ -x "$here/bcastctl" ] || here=$here/../build/tools
T=${BCAST_TOOLS:-$here}
SECS=${BCAST_DEMO_SECONDS:-5}
RATE_GIVEN=${BCAST_DEMO_RATE:-}
SIZE=${BCAST_DEMO_SIZE:-64}
for tool in bcastctl bcast-pub bcast-sub; do
    [ -x "$T/$tool" ] || { echo "demo: $T/$tool is missing (run make first)" >&2; exit 1; }
done

if [ -e /dev/bcast-ctl ]; then
    RING=demo-$$
    WHERE="a device ring of bcast.ko (/dev/bcast-ctl is there)"
else
    RING=shm:bcast-demo-$$
    WHERE="a POSIX shared-memory ring (bcast.ko is not loaded)"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/bcast-demo.XXXXXX") || exit 1
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    "$T/bcastctl" destroy --force "$RING" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }

step "ring $RING: $WHERE"
"$T/bcastctl" create "$RING" --size 4M --hugepage || exit 1
"$T/bcastctl" info "$RING" || exit 1

# Three busy processes on two CPUs take turns, and the tails then show the
# turns, not the ring.  With few CPUs the spinning subscriber gets a CPU of
# its own; the publisher sleeps between messages (sending what is due when
# it wakes) and shares the other with the blocking subscriber, which sleeps
# in bcast_wait() between wake-ups.
# The blocking subscriber is woken for almost every message, two system
# calls each: at 100k/s that is a CPU's worth of work on a virtual machine,
# so with fewer than 4 CPUs the demo publishes 20k/s unless told otherwise.
cpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
PUB_OPTS="" SPIN_OPTS="" BLOCK_OPTS=""
if [ "$cpus" -ge 4 ]; then
    RATE=${RATE_GIVEN:-100k}
    LAYOUT="$cpus CPUs: every process where the scheduler puts it; the publisher spins out its schedule"
else
    RATE=${RATE_GIVEN:-20k}
    PUB_OPTS="--spin-us 0"
    if [ "$cpus" -ge 2 ]; then
        PUB_OPTS="--cpu 0 $PUB_OPTS"
        SPIN_OPTS="--cpu 1"
        BLOCK_OPTS="--cpu 0"
        LAYOUT="$cpus CPUs: the spinning subscriber alone on CPU 1; the publisher (sleeping between messages) and the blocking subscriber on CPU 0; $RATE msg/s"
    else
        LAYOUT="1 CPU: everything on it; the publisher sleeps between messages; $RATE msg/s"
    fi
fi

step "publisher: $RATE synthetic quotes/s of $SIZE bytes for ${SECS}s; two subscribers"
echo "layout: $LAYOUT"
# shellcheck disable=SC2086
"$T/bcast-pub" "$RING" --rate "$RATE" --size "$SIZE" --seconds "$SECS" \
    $PUB_OPTS >"$work/pub.out" 2>"$work/pub.err" &
pub=$!
pids="$pub"
# The subscribers read from the oldest message, so starting them a moment
# after the publisher loses nothing; they stop when the publisher does.
tries=0
until "$T/bcastctl" info --json "$RING" 2>/dev/null | grep -q '"writer_alive": true'; do
    tries=$((tries + 1))
    [ $tries -lt 50 ] || { echo "demo: the publisher did not start:" >&2; cat "$work/pub.err" >&2; exit 1; }
    sleep 0.1
done
# shellcheck disable=SC2086
"$T/bcast-sub" "$RING" --from oldest --spin --quiet --stats --label spinning \
    $SPIN_OPTS 2>"$work/spin.err" &
spin=$!
# shellcheck disable=SC2086
"$T/bcast-sub" "$RING" --from oldest --quiet --stats --label blocking \
    $BLOCK_OPTS 2>"$work/block.err" &
block=$!
pids="$pub $spin $block"

step "bcastctl stat $RING (live, once a second)"
# The monitor too stays off the spinning subscriber's CPU (when taskset
# is there to say so).
STAT_PIN=""
if [ -n "$SPIN_OPTS" ] && command -v taskset >/dev/null 2>&1; then
    STAT_PIN="taskset -c 0"
fi
$STAT_PIN "$T/bcastctl" stat "$RING" --interval 1 --count "$SECS" 2>&1 | head -n $((SECS + 3))

status=0
wait "$pub" || { echo "demo: the publisher failed:" >&2; status=1; }
wait "$spin" || { echo "demo: the spinning subscriber failed" >&2; status=1; }
wait "$block" || { echo "demo: the blocking subscriber failed" >&2; status=1; }
pids=""

step "publisher"
cat "$work/pub.err" "$work/pub.out"
step "subscribers (latency = receive time - the publisher's time stamp)"
cat "$work/spin.err" "$work/block.err"
echo "layout: $LAYOUT"
step "removing $RING"
"$T/bcastctl" destroy "$RING" && echo "done"
exit $status
