#!/usr/bin/env bash
# Fuzz the reader over arbitrary ring memory with libFuzzer (ASan + UBSan).
#
#   tests/fuzz/run.sh [SECONDS]      fuzz for SECONDS (default 60)
#   tests/fuzz/run.sh --make-corpus  regenerate the seed corpus
#
# The checked-in corpus (tests/fuzz/corpus) is only read: new inputs go to a
# temporary copy.  Any crash, hang (an input running over 10 s), leak or
# sanitizer report fails the run; the input that did it is kept in
# build/fuzz/artifacts/ and the command to replay it is printed.  The full
# libFuzzer log is build/fuzz/fuzz.log.
#
# Environment: BCAST_FUZZ_FLAGS adds libFuzzer flags (e.g.
# "-use_value_profile=1"); BCAST_FUZZ_STRICT=1 turns on the target's
# consistency checks (see fuzz-reader.c) besides memory safety and hangs.  The
# verdict is one TAP line ("ok 1 - fuzz-reader: ..." or "not ok 1 - ..."),
# the last line "fuzz: 1 passed, 0 failed" or "fuzz: 0 passed, 1 failed".
set -u -o pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

CORPUS=tests/fuzz/corpus
BIN=build/fuzz/fuzz-reader
LOG=build/fuzz/fuzz.log
ARTIFACTS=build/fuzz/artifacts

# finish STATUS WHAT: the verdict, and the end.
finish() {
    tap_result "$1" "fuzz-reader: $2"
    tap_summary fuzz
    exit "$1"
}

# Can clang build a libFuzzer target here?
fuzzer_works() {
    local dir ok=1
    command -v clang >/dev/null 2>&1 || return 1
    dir=$(mktemp -d) || return 1
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
        '{ (void)d; (void)n; return 0; }' >"$dir/t.c"
    clang -fsanitize=fuzzer,address,undefined -o "$dir/t" "$dir/t.c" \
        >/dev/null 2>&1 && ok=0
    rm -rf "$dir"
    return $ok
}

# clang's libFuzzer runtime comes with libclang-rt-14-dev.
ensure_clang() {
    fuzzer_works && return 0
    install_packages fuzz clang libclang-rt-14-dev && fuzzer_works
}

case "${1:-}" in
    -h|--help)
        sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
        exit 0 ;;
    --make-corpus)
        # The seeds anew; regress-* are inputs that once failed: kept.
        set -e
        make make-corpus >/dev/null
        seeds=$(mktemp -d)
        build/tests/fuzz/make-corpus "$seeds"
        mkdir -p "$CORPUS"
        find "$CORPUS" -maxdepth 1 -type f ! -name 'regress-*' -delete
        cp "$seeds"/* "$CORPUS"/
        rm -rf "$seeds"
        exit 0 ;;
esac

SECONDS_TO_RUN=${1:-60}
case $SECONDS_TO_RUN in
    ''|*[!0-9]*) echo "usage: $0 [SECONDS] | --make-corpus" >&2
                 finish 1 "no fuzzing: '$SECONDS_TO_RUN' is no number of seconds" ;;
esac

ensure_clang || finish 1 "no clang that builds a libFuzzer target"
mkdir -p build/fuzz "$ARTIFACTS"
if ! make fuzz >build/fuzz/build.log 2>&1; then
    tail -n 30 build/fuzz/build.log
    finish 1 "building $BIN failed"
fi
[ -d "$CORPUS" ] && [ -n "$(ls -A "$CORPUS" 2>/dev/null)" ] ||
    echo "fuzz: warning: no seed corpus in $CORPUS"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bcast-fuzz.XXXXXX") || finish 1 "mktemp failed"
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/corpus" "$WORK/artifacts"
cp -r "$CORPUS"/. "$WORK/corpus/" 2>/dev/null

echo "fuzz: $BIN for ${SECONDS_TO_RUN}s, seeds from $CORPUS"
# First corpus directory: where libFuzzer writes; the second is read only.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$BIN" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 \
    -max_len=20000 -len_control=0 -print_final_stats=1 \
    -artifact_prefix="$WORK/artifacts/" ${BCAST_FUZZ_FLAGS:-} \
    "$WORK/corpus" "$CORPUS" >"$LOG" 2>&1 </dev/null
status=$?

# Every sign of trouble counts, whatever the exit status says.
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|^fuzz-reader: |==[0-9]+== ?ERROR|SUMMARY: .*Sanitizer|ALARM: working on the last Unit|out-of-memory' "$LOG"; then
    [ "$status" -eq 0 ] && status=1
fi

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOG" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOG" | tail -n 1)
cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$LOG" | tail -n 1)
[ -z "$runs" ] && runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$LOG" | tail -n 1)
[ -z "$runs" ] && runs=$(grep -oE '^#[0-9]+' "$LOG" | tail -n 1 | tr -d '#')
figures="${runs:-0} executions (${rate:-?} exec/s), ${cov:-no coverage line}, corpus $(ls "$WORK/corpus" | wc -l) inputs"
echo "fuzz: $figures"

if [ "$status" -ne 0 ]; then
    echo "fuzz: FAILED (exit $status); the report:"
    grep -nE 'ERROR|runtime error|^fuzz-reader: |ALARM|SUMMARY|^    #[0-9]+ ' "$LOG" | head -n 40
    for a in "$WORK"/artifacts/*; do
        [ -e "$a" ] || continue
        cp "$a" "$ARTIFACTS/"
        echo "fuzz: input kept: $ARTIFACTS/$(basename "$a") (base64: $(base64 -w0 "$a" | head -c 200))"
        echo "fuzz: replay: $BIN $ARTIFACTS/$(basename "$a")"
    done
    echo "fuzz: full log: $LOG"
    finish 1 "$figures: exit $status (log: $LOG)"
fi
finish 0 "$figures, ${SECONDS_TO_RUN}s, no crash, hang, leak or sanitizer report"
