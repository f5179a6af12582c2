#!/bin/sh
# bcast-bench: options, every section in a short run, JSON, the plot.
# Runs on the host and in the VM (busybox sh); TAP output.
# BCAST_TOOLS: where the binaries are (default: build/tools of this tree).
T=${BCAST_TOOLS:-$(dirname "$0")/../../build/tools}
B="$T/bcast-bench"
work=$(mktemp -d "${TMPDIR:-/tmp}/bcast-test-bench.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
n=0
failed=0
echo "1..11"

result() {	# result STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
    fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# Tiny figures: this checks the program works, not how fast anything is.
QUICK="--rounds 1 --seconds 0.02 --sizes 64,255 --samples 200 --rate 20000 --wakeups 20 --gap 200 --readers 2 --retries 0 --settle 1 --publishes 20 --sleepers 1 --poller-rings 64"

"$B" --help >"$work/help" 2>&1
st=$?
grep -q -- '--plot' "$work/help" && grep -q -- '--baselines' "$work/help"
result $((st + $?)) "--help exits 0 and documents --plot and --baselines"

"$B" --no-such-option >"$work/out" 2>&1
st=$?
[ $st -eq 2 ] && grep -q "unknown option '--no-such-option'" "$work/out"
result $? "an unknown option exits 2 and is named (exit $st)"

"$B" --sizes 64,0 >"$work/out" 2>&1
st=$?
[ $st -eq 2 ] && grep -q -- "--sizes" "$work/out"
result $? "a bad --sizes exits 2 naming the option (exit $st)"

"$B" --settle -1 >"$work/out" 2>&1
st=$?
[ $st -eq 2 ] && grep -q -- "--settle" "$work/out"
result $? "a negative --settle exits 2 naming the option (exit $st)"

"$B" --tests wakeup --poller-rings 0 >"$work/out" 2>&1
st=$?
[ $st -eq 2 ] && grep -q -- "--poller-rings" "$work/out"
result $? "a poller of no rings is refused, naming the option (exit $st)"

"$B" --tests latency --size 4 >"$work/out" 2>&1
st=$?
[ $st -eq 2 ] && grep -q -- "--size" "$work/out"
result $? "a latency message smaller than its time stamp is refused (exit $st)"

# shellcheck disable=SC2086
"$B" $QUICK >"$work/text" 2>"$work/err"
st=$?
for section in "throughput:" "fan-out:" "latency:" "wake-up:" "writer latency:" "targets:"; do
    grep -q "^$section" "$work/text" || st=1
done
grep -Eq "round trip between CPUs [0-9]+ and [0-9]+: [0-9]+ ns at best" "$work/text" || st=1
result $st "a short run prints every section and the targets"
[ $st -eq 0 ] || sed 's/^/# /' "$work/err" "$work/text" | head -n 40

grep -E '^  (pipe|unix|zeromq) ' "$work/text" >/dev/null &&
    grep -q 'bcast-wait' "$work/text"
result $? "the latency table has the baselines and the blocking bcast reader"

# shellcheck disable=SC2086
"$B" $QUICK --json >"$work/json" 2>"$work/err"
st=$?
if command -v python3 >/dev/null 2>&1; then
    python3 - "$work/json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for key in ("throughput", "fanout", "latency", "wakeup", "notify", "targets"):
    assert key in d, key
r = d["throughput"]["results"]
assert [x["size"] for x in r] == [64, 255], r
columns = ("ref-held", "receive-held", "receive-free", "batch-held",
           "batch-free", "bulk-held", "bulk-free", "ref-free")
for x in r:
    for c in columns:
        assert x[c]["median_msgs_per_s"] > 0, (x["size"], c)
        assert x[c]["writer"] == c.split("-")[1], (c, x[c]["writer"])
        if c.endswith("-held"):
            assert x[c]["lost"] == 0, ("a held writer loses nothing", c)
    assert x["ref-held"]["paired_ratio_to_floor"] == 1.0, x["ref-held"]
    assert 0 < x["round_trip_ns_min"] <= x["round_trip_ns_max"], x
    assert x["rounds_cpus_apart"] >= 0 and x["waited_s"] <= 2, x
assert d["throughput"]["fastest_round_trip_ns"] > 0, d["throughput"]
what = [t["what"] for t in d["targets"]]
for size in (64, 255):
    for c in ("receive", "bulk"):
        for w in ("held", "free"):
            assert any(f"{size} B {c}-{w} / floor" in t for t in what), (size, c, w)
assert any("64 B bulk-held / receive-held" in t for t in what), what
assert any("255 B batch-free / receive-free" in t for t in what), what
assert len(d["fanout"]["readers"]) == 2
f = d["fanout_free"]
assert [x["readers"] for x in f["readers"]] == [0, 1, 2], f
assert all(x["writer_msgs_per_s"] > 0 for x in f["readers"]), f
assert 0 < f["reference_writer_ratio"] < 10, f
assert d["latency"]["bcast"]["samples"] == 200, d["latency"]["bcast"]
assert d["latency"]["bcast"]["p50_ns"] <= d["latency"]["bcast"]["max_ns"]
w = d["wakeup"]
assert w["bcast_shm"]["samples"] + w["bcast_shm_not_asleep"] == 20, w
assert w["futex"]["samples"] + w["futex_not_asleep"] == 20, w
assert w["futex_paired_p50_ratio"] == 1.0, w
assert w["bcast_shm_paired_p50_ratio"] > 0, w
assert w["poller_rings"] == 64, w
def measured(k):
    return w[k]["samples"] + w[k + "_not_asleep"] == 20
for k in ("poller_shm", "epoll_eventfds"):
    assert measured(k), (k, w)
assert w["poller_shm_reference"] == "epoll_eventfds", w
assert "eventfd_uring_poll_skipped" in w or measured("eventfd_uring_poll"), w
device = ("bcast_device", "device_poll", "device_uring_poll",
          "device_uring_cmd", "poller_device")
for k in device:
    skipped = w.get(k + "_skipped", "")
    if "not loaded" in skipped:
        assert all("not loaded" in w[j + "_skipped"] for j in device), w
    else:
        assert measured(k) or (k in ("device_uring_poll", "device_uring_cmd")
                               and skipped), (k, w)
if "device_uring_cmd_skipped" in w and "not loaded" not in w["device_uring_cmd_skipped"]:
    assert "6.7" in w["device_uring_cmd_skipped"] or "io_uring" in w["device_uring_cmd_skipped"] or "liburing" in w["device_uring_cmd_skipped"], w
n = d["notify"]["shm"]
assert n["sync"]["samples"] + n["sync_dropped"] == 20, n
assert n["sync_paired_p50_ratio"] == 1.0, n
for how in ("io_uring", "sqpoll"):
    assert how + "_refused" in n or n[how]["samples"] + n[how + "_dropped"] == 20, n
assert all("met" in t for t in d["targets"])
PY
    result $((st + $?)) "--json is valid JSON with every section and sane figures"
else
    head -c 1 "$work/json" | grep -q '{' && tail -n 1 "$work/json" | grep -q '}' &&
        grep -q '"wakeup"' "$work/json" && grep -q '"targets"' "$work/json"
    result $((st + $?)) "--json prints one object with every section (no python3 to parse it)"
fi

if [ -e /dev/bcast-ctl ]; then
    grep -q '"bcast_device"' "$work/json" && grep -q '"eventfd"' "$work/json"
    result $? "with the module loaded, a device ring's wake-up is measured against an eventfd"
else
    skip "bcast.ko not loaded: no device wake-up"
fi

if command -v gnuplot >/dev/null 2>&1; then
    "$B" --rounds 1 --seconds 0.02 --sizes 64 --samples 200 --wakeups 20 \
        --readers 1 --retries 0 --plot "$work/bench.png" >/dev/null 2>"$work/err"
    st=$?
    [ "$(head -c 4 "$work/bench.png" 2>/dev/null | od -An -c | tr -d ' ')" = "211PNG" ]
    result $((st + $?)) "--plot draws a PNG with gnuplot"
else
    skip "gnuplot is not installed"
fi

echo "# $((n - failed)) of $n passed"
[ $failed -eq 0 ]
