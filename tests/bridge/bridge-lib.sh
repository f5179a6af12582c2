# SPDX-License-Identifier: MIT
# What the bridge tests share; they set WORK (their directory) and PIDS.

# start NAME CMD...: CMD in the background, its output added to
# $WORK/NAME.out and .err; its pid in $LAST (and in PIDS, for the cleanup).
start() {
	local name=$1
	shift
	"$@" >>"$WORK/$name.out" 2>>"$WORK/$name.err" &
	LAST=$!
	PIDS+=("$LAST")
}

# wait_line FILE TEXT SECONDS [COUNT]: until FILE has COUNT lines (1) with
# TEXT; else its last lines as TAP comments, and 1.
wait_line() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		[ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "${4:-1}" ] && return 0
		sleep 0.1
	done
	echo "# $1 never said '$2':"; sed 's/^/#   /' "$1" | tail -n 5
	return 1
}

# json_field FILE KEY: a number of the last one-line JSON object in FILE.
json_field() {
	grep -o "\"$2\":[0-9]*" "$1" | tail -n 1 | cut -d: -f2
}

# field LINE KEY: KEY=VALUE out of bridge-check's line.
field() {
	echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
