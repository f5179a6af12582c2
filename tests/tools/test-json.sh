#!/bin/sh
# tests/tools/test-json.sh - the tools' JSON writer (tools/common/json.c) on
# its own, TAP output: exact output (tests/tools/json-writer.c), and every
# string of one and two bytes plus many of UTF-8's edge bytes decoded by
# python3 and compared with what json.h promises.
#
# Needs a C compiler and the source tree (CC, default cc); without them (the
# VM) every test is skipped.
set -u

here=$(cd "$(dirname "$0")" && pwd)
src=$here/../../tools/common
CC=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bcast-test-json.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
n=0
fails=0
echo "1..3"

result() {	# result STATUS DESCRIPTION
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fails=$((fails + 1))
	fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }

if [ ! -f "$src/json.c" ] || ! command -v "$CC" >/dev/null 2>&1; then
	for i in 1 2 3; do
		skip "no C compiler ($CC) or no tools/common/json.c here"
	done
	exit 0
fi

"$CC" -std=c11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -I"$src" -o "$tmp/json-writer" \
	"$here/json-writer.c" "$src/json.c" -lm 2>"$tmp/cc.err"
st=$?
result $st "json-writer builds with -Werror"
[ $st -eq 0 ] || { sed 's/^/# /' "$tmp/cc.err"; exit 1; }

"$tmp/json-writer" >"$tmp/self" 2>&1
st=$?
planned=$(sed -n 's/^1\.\.//p' "$tmp/self")
passed=$(grep -c '^ok ' "$tmp/self")
[ $st -eq 0 ] && [ -n "$planned" ] && [ "$passed" -eq "$planned" ]
result $? "exact output: $passed of ${planned:-?} cases (styles, escapes, UTF-8, depth, misuse)"
grep -av '^ok ' "$tmp/self" | grep -av '^1\.\.' | sed 's/^/# /'

if ! command -v python3 >/dev/null 2>&1; then
	skip "no python3 to decode the strings"
else
	python3 - "$tmp/json-writer" <<'PY'
import codecs, json, random, struct, subprocess, sys

# json.h: well-formed UTF-8 as it is, every other byte as the code point
# of the same value.  Python's strict decoder is the independent judge of
# what is well-formed.
def each_byte(e):
    return ("".join(chr(b) for b in e.object[e.start:e.end]), e.end)
codecs.register_error("each_byte", each_byte)

cases = [bytes([a]) for a in range(256)]
cases += [bytes([a, b]) for a in range(256) for b in range(256)]
edges = [0x00, 0x08, 0x0a, 0x1f, 0x20, 0x22, 0x2f, 0x41, 0x5c, 0x7e, 0x7f,
         0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
         0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff]
rng = random.Random(7)
cases += [bytes(rng.choice(edges) for _ in range(rng.randint(1, 12)))
          for _ in range(50000)]
cases += ["\u00e9\u20ac\U0001f600\U0010ffff".encode() * 3]
stdin = b"".join(struct.pack("<I", len(c)) + c for c in cases)
out = subprocess.run([sys.argv[1], "strings"], input=stdin,
                     stdout=subprocess.PIPE, check=True).stdout
text = out.decode("utf-8")          # strict: the document is UTF-8
got = json.loads(text)              # strict: no raw control characters
assert len(got) == len(cases), (len(got), len(cases))
bad = [(c, g) for c, g in zip(cases, got)
       if g != c.decode("utf-8", "each_byte")]
for c, g in bad[:5]:
    print("#   %r became %r" % (c, g))
assert not bad, "%d strings differ" % len(bad)
assert all(0x20 <= ord(ch) != 0x7f for ch in text if ord(ch) < 0x80 and ch != "\n")
PY
	result $? "every 1- and 2-byte string and 50000 of UTF-8's edge bytes decode as json.h says"
fi

echo "# $((n - fails)) of $n passed"
[ "$fails" -eq 0 ]
