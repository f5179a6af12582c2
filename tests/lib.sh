# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# What the test scripts share (check.sh, fuzz/run.sh, vm/*.sh, arm64/run.sh
# and model/run.sh source it): installing the Debian packages a stage
# needs, printing results as TAP, and counting the results of a step from
# its log.

# ---- packages ----

# pkg_installed PKG: is the Debian package PKG installed?
pkg_installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null |
		grep -q '^install ok installed$'
}

# install_packages PROG PKG...: install the packages with apt-get (nothing
# to do without any).  Only root may: anyone else is told what is missing.
# The package lists are updated once for all the scripts of a run.
install_packages() {
	local prog=$1 log
	shift
	[ $# -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		echo "$prog: missing packages: $* (run as root to install them with apt-get)" >&2
		return 1
	fi
	log=${TMPDIR:-/tmp}/bcast-apt.$$.log
	echo "$prog: installing $*" >&2
	export DEBIAN_FRONTEND=noninteractive
	if [ -z "${BCAST_APT_UPDATED:-}" ]; then
		if ! apt-get -q -o DPkg::Lock::Timeout=600 update >"$log" 2>&1; then
			tail -n 20 "$log" >&2
			echo "$prog: apt-get update failed" >&2
			rm -f "$log"
			return 1
		fi
		export BCAST_APT_UPDATED=1
	fi
	if ! apt-get -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends \
	     install "$@" >"$log" 2>&1; then
		tail -n 20 "$log" >&2
		echo "$prog: apt-get install $* failed" >&2
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
}

# ---- TAP ----

TAP_N=0
TAP_PASSED=0
TAP_FAILED=0
TAP_TODO=0

tap_plan() {
	echo "1..$1"
}

tap_ok() {
	TAP_N=$((TAP_N + 1))
	TAP_PASSED=$((TAP_PASSED + 1))
	echo "ok $TAP_N - $*"
}

tap_not_ok() {
	TAP_N=$((TAP_N + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_N - $*"
}

# tap_result STATUS DESCRIPTION: ok if STATUS is 0.
tap_result() {
	local status=$1
	shift
	if [ "$status" -eq 0 ]; then
		tap_ok "$@"
	else
		tap_not_ok "$@"
	fi
}

# tap_check LOG DESCRIPTION CMD...: run CMD, its output appended to LOG,
# and say how it went as one TAP line.
tap_check() {
	local log=$1 what=$2
	shift 2
	"$@" >>"$log" 2>&1
	tap_result $? "$what"
}

# tap_todo FAILED DESCRIPTION: a known bug, counted neither way; it says so
# when it no longer fails (FAILED is 0).
tap_todo() {
	local failed=$1
	shift
	TAP_N=$((TAP_N + 1))
	TAP_TODO=$((TAP_TODO + 1))
	if [ "$failed" -ne 0 ]; then
		echo "not ok $TAP_N - $* # TODO known bug"
	else
		echo "ok $TAP_N - $* # TODO now passes?"
	fi
}

# tap_summary [LABEL]: the last line, "LABEL: N passed, N failed"; fails if
# anything did.
tap_summary() {
	echo "${1:+$1: }$TAP_PASSED passed, $TAP_FAILED failed"
	[ "$TAP_FAILED" -eq 0 ]
}

# tap_count_log LOG STATUS: the results of a step whose output is LOG and
# whose exit status was STATUS, in LOG_PASSED and LOG_FAILED: its TAP
# lines if it has any ("not ok ... # TODO" is an expected failure, not a
# failure), else its last "N passed, N failed" line, else its status.  A
# step that failed counts at least one failure.
tap_count_log() {
	local log=$1 status=$2 line
	LOG_PASSED=$(grep -ac '^ok ' "$log")
	LOG_FAILED=$(grep -a '^not ok ' "$log" | grep -vc '# TODO')
	if [ "$LOG_PASSED" -eq 0 ] && [ "$LOG_FAILED" -eq 0 ]; then
		line=$(grep -aE '([[:alnum:]()._-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
		if [ -n "$line" ]; then
			LOG_PASSED=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
			LOG_FAILED=$(sed -E 's/^(.*[^0-9])?([0-9]+) passed, ([0-9]+) failed.*/\3/' <<<"$line")
		elif [ "$status" -eq 0 ]; then
			LOG_PASSED=1
		fi
	fi
	if [ "$status" -ne 0 ] && [ "$LOG_FAILED" -eq 0 ]; then
		LOG_FAILED=1
	fi
}

# ---- steps (make check) ----

STEP_FAILURES=()

# record NAME STATUS LOG: count a step's results into TAP_PASSED and
# TAP_FAILED, and say so.  A step that printed no results (a build) gets
# its verdict added to its log as a TAP line.
record() {
	local name=$1 status=$2 log=$3
	if ! grep -qaE '^(not )?ok |[0-9]+ passed, [0-9]+ failed' "$log"; then
		if [ "$status" -eq 0 ]; then
			echo "ok 1 - $name" >>"$log"
		else
			echo "not ok 1 - $name (exit $status)" >>"$log"
		fi
	fi
	tap_count_log "$log" "$status"
	TAP_PASSED=$((TAP_PASSED + LOG_PASSED))
	TAP_FAILED=$((TAP_FAILED + LOG_FAILED))
	if [ "$LOG_FAILED" -ne 0 ]; then
		STEP_FAILURES+=("$name (log: $log)")
		printf '   FAIL %s: %d passed, %d failed (exit %d)\n' "$name" "$LOG_PASSED" "$LOG_FAILED" "$status"
		grep -aE '^not ok|^# .*(failed|expected)|ERROR|runtime error|Sanitizer' "$log" | head -n 20 | sed 's/^/      /'
	else
		printf '   ok   %s: %d passed\n' "$name" "$LOG_PASSED"
	fi
}

# run NAME SECONDS CMD...: run a step with a time limit, its output in
# $LOGDIR, and record it.
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
