#!/bin/sh
# README.md's examples (examples/*.c): README shows each as it is in its
# file, and each runs: against shm rings on the host, and against device
# rings too where bcast.ko is loaded (the VM).  TAP output.
# BCAST_TOOLS: where the tools are (the examples are beside them, in
# ../examples, unless BCAST_EXAMPLES says where).
T=${BCAST_TOOLS:-$(dirname "$0")/../../build/tools}
E=${BCAST_EXAMPLES:-$T/../examples}
README=$(dirname "$0")/../../README.md
work=$(mktemp -d "${TMPDIR:-/tmp}/bcast-test-examples.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
n=0
failed=0
echo "1..10"

result() {	# result STATUS DESCRIPTION
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
        sed 's/^/# /' "$work/out" 2>/dev/null | head -n 20
    fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

# run NAME ARGS...: the example's output in $work/out, its status returned.
run() {
    name=$1
    shift
    timeout 120 "$E/$name" "$@" >"$work/out" 2>&1
}

if [ -f "$README" ] && command -v python3 >/dev/null 2>&1; then
    python3 - "$README" "$(dirname "$README")" >"$work/out" 2>&1 <<'PY'
import os, re, sys
readme, top = sys.argv[1], sys.argv[2]
text = open(readme).read().split("\n")
def norm(line):
    return " ".join(line.split())
blocks, i = [], 0
while i < len(text):
    m = re.match(r"<!-- example: (\S+) -->$", text[i])
    if m:
        assert text[i + 1] == "```c", f"README line {i + 2}: a C block must follow the marker"
        j = i + 2
        while text[j] != "```":
            j += 1
        blocks.append((m.group(1), i + 3, text[i + 2:j]))
        i = j
    i += 1
shown = set()
for path, first, lines in blocks:
    src = [norm(l) for l in open(os.path.join(top, path)).read().split("\n")]
    k = 0
    for off, line in enumerate(lines):
        want = norm(line)
        if not want:
            continue
        while k < len(src) and want not in src[k]:
            k += 1
        assert k < len(src), f"README line {first + off}: {line.strip()!r} is not in {path} (in this order)"
        k += 1
    shown.add(path)
every = {os.path.join("examples", f) for f in os.listdir(os.path.join(top, "examples")) if f.endswith(".c")}
assert every <= shown, f"examples README.md does not show: {sorted(every - shown)}"
print(f"{len(blocks)} blocks, from {len(shown)} files")
PY
    result $? "README.md shows every example as it is in examples/ ($(tail -n 1 "$work/out"))"
else
    skip "no README.md or python3 here: the blocks are checked on the host"
fi

run quotes 0
result $([ $? -eq 2 ] && grep -q usage "$work/out"; echo $?) "a bad count is a usage error (exit 2)"

run quotes 10000
st=$?
grep -q "^reader: 10000 hellos, 10000 prices$" "$work/out"
result $((st + $?)) "quotes: a reader in another process receives all 20,000 messages"

run poller 10000
st=$?
[ "$(grep -c ': 10000 messages, writer came 1, left 1$' "$work/out")" -eq 2 ]
result $((st + $?)) "poller: two rings and a socket in one loop, every message in order, each writer's arrival and departure once"

for how in sync uring sqpoll; do
    run async-notify "$how" 2000
    st=$?
    grep -q "^reader: 2000 messages" "$work/out" &&
        grep -Eq "^writer: [1-9][0-9]* notifies, 0 failed$" "$work/out"
    result $((st + $?)) "async-notify $how (shm): 2,000 messages to a sleeping reader, $(grep -q 'not available' "$work/out" && echo 'mode refused here, synchronous' || echo 'in that mode')"
done

if [ -e /dev/bcast-ctl ]; then
    run async-notify uring 2000 example-notify-dev
    st=$?
    grep -q "^reader: 2000 messages" "$work/out" &&
        grep -Eq "^writer: [1-9][0-9]* notifies, 0 failed$" "$work/out"
    result $((st + $?)) "async-notify uring on a device ring"
    if [ -x "$E/uring-device" ]; then
        for how in poll wait; do
            run uring-device "$how" 2000
            st=$?
            grep -q "^reader: 2000 of 2000 messages$" "$work/out"
            result $((st + $?)) "uring-device $how: a device reader in io_uring gets every message and its writer's departure$(grep -q refused "$work/out" && echo ' (WAIT refused by this kernel: polled)')"
        done
    else
        skip "uring-device not built (no liburing)"
        skip "uring-device not built (no liburing)"
    fi
else
    skip "bcast.ko not loaded: no device ring for async-notify"
    skip "bcast.ko not loaded: no device ring for uring-device poll"
    skip "bcast.ko not loaded: no device ring for uring-device wait"
fi

echo "# $((n - failed)) of $n passed"
[ $failed -eq 0 ]
