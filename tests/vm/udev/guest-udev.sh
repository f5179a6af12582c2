#!/bin/sh
# tests/vm/udev/guest-udev.sh - udev/60-bcast.rules under the real
# systemd-udevd, inside the busybox guest of tests/vm/run.sh.
#
# Usage (in the guest): sh guest-udev.sh [DIR]
#   DIR (default: this script's directory) holds what test-udev.sh staged:
#   udevadm, systemd-udevd (a copy of udevadm: it runs as the daemon when
#   called by that name), 60-bcast.rules, optionally Debian's
#   50-udev-default.rules, bcastctl and bcast.ko.
#
# The order is a real machine's: udevd runs first (and has coldplugged the
# devices there are), then the module is loaded with ctl_gid=<gid of
# group bcast> (insmod here; run.sh is told --no-module), so udevd sees
# every uevent of bcast.ko.  A last part loads the module with udevd
# stopped and starts udevd afterwards (a module loaded from the initramfs
# before the root's udevd): coldplug must give the same result.
#
# Users: root; alice (uid 1000, primary group alice), a member of group
# bcast (gid 600); bob (uid 1001), a member of nothing.  They are run with
# busybox su (root needs no password, su calls initgroups()).
#
# Prints TAP lines and "N passed, N failed"; exits non-zero on a failure.
# shellcheck disable=SC2317 # the checks are functions that check() calls
set -u

DIR=${1:-$(cd "$(dirname "$0")" && pwd)}
MOD=$DIR/bcast.ko
CTL=$DIR/bcastctl
# Where the Debian package installs the rule (README.md says
# /etc/udev/rules.d for a copy by hand: the same for udevd).
RULE_DIR=/lib/udev/rules.d
LOG=/tmp/udevd.log
BCAST_GID=600
ALICE_UID=1000
ALICE_GID=1000
BOB_UID=1001
SIZE=64K

N=0
PASSED=0
FAILED=0
why=

ok() { N=$((N + 1)); PASSED=$((PASSED + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
# check DESCRIPTION CMD...: ok if CMD succeeds, else not ok with $why.
check() {
	desc=$1
	shift
	why=
	if "$@"; then
		ok "$desc"
	else
		not_ok "$desc${why:+: $why}"
	fi
}
note() { echo "# $*"; }
# oneline [TEXT]: TEXT (else stdin) with its lines joined by spaces.
oneline() {
	if [ $# -gt 0 ]; then printf '%s\n' "$1"; else cat; fi |
		tr '\n' ' ' | sed 's/ *$//'
}
fail() { why="$*"; return 1; }

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
	exit $?
}

# A fatal set-up failure: one not-ok line, the log's tail, and out.
bail() {
	not_ok "$*"
	[ -s "$LOG" ] && tail -n 30 "$LOG" | sed 's/^/# udevd: /'
	finish
}

settle() { udevadm settle --timeout=60 || note "udevadm settle timed out"; }

# as USER CMD: run shell text CMD as USER (busybox su; root needs no
# password; initgroups() gives the user's supplementary groups).
as() {
	u=$1
	shift
	su -s /bin/sh "$u" -c "$*"
}

# ------------------------------------------------------------------ set-up
for f in udevadm systemd-udevd 60-bcast.rules bcastctl bcast.ko; do
	[ -e "$DIR/$f" ] || bail "set-up: $DIR/$f missing"
done

mkdir -p /run /etc/udev/rules.d /lib/udev/rules.d /lib/systemd
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run || bail "set-up: cannot mount /run"
cp "$DIR/udevadm" /bin/udevadm
cp "$DIR/systemd-udevd" /lib/systemd/systemd-udevd
cp "$DIR/60-bcast.rules" "$RULE_DIR/60-bcast.rules"
# Debian's default rules, where the package has them: they must not touch
# bcast's nodes either.
[ -f "$DIR/50-udev-default.rules" ] &&
	cp "$DIR/50-udev-default.rules" /lib/udev/rules.d/

# The groups 50-udev-default.rules names exist too (else udevd logs an
# "Unknown group" error for each, which is noise here).
cat >/etc/passwd <<EOF
root:x:0:0:root:/root:/bin/sh
alice:x:$ALICE_UID:$ALICE_GID:bcast member:/tmp:/bin/sh
bob:x:$BOB_UID:$BOB_UID:no bcast:/tmp:/bin/sh
EOF
cat >/etc/group <<EOF
root:x:0:
tty:x:5:
disk:x:6:
lp:x:7:
kmem:x:15:
dialout:x:20:
cdrom:x:24:
tape:x:26:
audio:x:29:
video:x:44:
input:x:101:
sgx:x:102:
kvm:x:103:
render:x:104:
bcast:x:$BCAST_GID:alice
alice:x:$ALICE_GID:
bob:x:$BOB_UID:
EOF
printf 'passwd: files\ngroup: files\nshadow: files\n' >/etc/nsswitch.conf
chmod 644 /etc/passwd /etc/group /etc/nsswitch.conf

# Running as another user: does busybox su work here at all?
if [ "$(as alice 'id -u'):$(as alice 'id -G')" != "$ALICE_UID:$ALICE_GID $BCAST_GID" ]; then
	note "su alice: id -u $(as alice 'id -u' 2>&1), id -G $(as alice 'id -G' 2>&1)"
	bail "set-up: busybox su cannot run a command as alice with her groups"
fi

UDEVD_PID=
start_udevd() {
	# --debug logs everything to stderr (it sets the console target, so
	# SYSTEMD_LOG_TARGET=console-prefixed would be ignored); colours tell
	# each line's level (check 7).
	echo "==== systemd-udevd start $(date)" >>"$LOG"
	SYSTEMD_COLORS=1 SYSTEMD_LOG_COLOR=1 \
		/lib/systemd/systemd-udevd --debug >>"$LOG" 2>&1 &
	UDEVD_PID=$!
	i=0
	while ! udevadm control --ping 2>/dev/null; do
		i=$((i + 1))
		if [ $i -ge 120 ] || ! kill -0 "$UDEVD_PID" 2>/dev/null; then
			return 1
		fi
		sleep 0.5
	done
	# coldplug, as systemd-udev-trigger.service does
	udevadm trigger --type=subsystems --action=add &&
		udevadm trigger --type=devices --action=add &&
		udevadm settle --timeout=120
}

stop_udevd() {
	udevadm control --exit 2>/dev/null
	i=0
	while kill -0 "$UDEVD_PID" 2>/dev/null; do
		i=$((i + 1))
		[ $i -ge 60 ] && { kill "$UDEVD_PID"; break; }
		sleep 0.5
	done
	wait "$UDEVD_PID" 2>/dev/null
	UDEVD_PID=
}

t0=$(date +%s)
start_udevd || bail "set-up: systemd-udevd did not start (see its log below)"
note "systemd-udevd $(udevadm --version) running (pid $UDEVD_PID), coldplug took $(( $(date +%s) - t0 ))s"

# rings= makes a ring at load, within insmod: its uevent too must give a link.
insmod "$MOD" ctl_gid=$BCAST_GID rings=boot.q ||
	bail "set-up: insmod $MOD ctl_gid=$BCAST_GID rings=boot.q failed"
settle
MAJOR=$(sed -n 's/^ *\([0-9]*\) bcast$/\1/p' /proc/devices)
note "bcast.ko loaded, ctl_gid=$(cat /sys/module/bcast/parameters/ctl_gid), char major $MAJOR"

# ----------------------------------------------------------------- helpers

# The sysfs device (bcastN) of the ring called $1, or nothing.
dev_of() {
	for d in /sys/class/bcast/bcast*; do
		[ -r "$d/name" ] || continue
		if [ "$(cat "$d/name")" = "$1" ]; then
			echo "${d##*/}"
			return 0
		fi
	done
	return 1
}

# What /dev holds (but for the filesystems of its own), one path a line.
dev_tree() {
	find /dev \( -path /dev/shm -o -path /dev/pts -o -path /dev/hugepages \) \
		-prune -o -print | sort
}

# Paths in file $2 that file $1 lacks.
added() { grep -vxF -f "$1" "$2"; }

# link_ok NAME: /dev/bcast/NAME is a link to ../bcastN, the node of the
# ring NAME (its device number is that of /sys/class/bcast/bcastN/dev,
# whose name is NAME).
link_ok() {
	dev=$(dev_of "$1") || { fail "no ring '$1' in /sys/class/bcast"; return 1; }
	l=/dev/bcast/$1
	[ -L "$l" ] || { fail "$l is not a symlink (/dev/bcast: $(link_names | oneline))"; return 1; }
	t=$(readlink "$l")
	[ "$t" = "../$dev" ] || { fail "$l -> '$t', not ../$dev"; return 1; }
	r=$(readlink -f "$l")
	[ "$r" = "/dev/$dev" ] || { fail "$l resolves to '$r', not /dev/$dev"; return 1; }
	[ -c "$r" ] || { fail "$r is not a character device"; return 1; }
	mm=$(stat -L -c '%t %T' "$l")
	# shellcheck disable=SC2086
	mm=$(printf '%d:%d' 0x${mm% *} 0x${mm#* })
	[ "$mm" = "$(cat "/sys/class/bcast/$dev/dev")" ] ||
		{ fail "$l is device $mm, /sys/class/bcast/$dev/dev says $(cat "/sys/class/bcast/$dev/dev")"; return 1; }
	[ "$(cat "/sys/class/bcast/$dev/name")" = "$1" ] ||
		{ fail "/sys/class/bcast/$dev/name is '$(cat "/sys/class/bcast/$dev/name")', not '$1'"; return 1; }
	return 0
}

# node_is NAME OWNER:GROUP MODE: /dev/bcastN of ring NAME shows them.
node_is() {
	dev=$(dev_of "$1") || { fail "no ring '$1' in /sys/class/bcast"; return 1; }
	got=$(stat -c '%U:%G %a' "/dev/$dev" 2>&1)
	[ "$got" = "$2 $3" ] || { fail "/dev/$dev is '$got', want '$2 $3'"; return 1; }
}

# Names of the rings there are, sorted, one a line; and the entries of
# /dev/bcast.  They must be the same after every step.
ring_names() { for d in /sys/class/bcast/bcast*; do [ -r "$d/name" ] && cat "$d/name"; done | sort; }
# shellcheck disable=SC2012 # the names are [A-Za-z0-9._-]
link_names() { [ -d /dev/bcast ] && ls -A /dev/bcast | sort; }

# links_match: /dev/bcast holds exactly one correct link per ring.
links_match() {
	r=$(ring_names)
	l=$(link_names)
	[ "$r" = "$l" ] || { fail "rings {$(oneline "$r")}, /dev/bcast holds {$(oneline "$l")}"; return 1; }
	for n in $r; do
		link_ok "$n" || return 1
	done
	return 0
}

create() { "$CTL" create --size $SIZE --device "$@" >/dev/null; }

# create_clean NAME: as root (mode 0640); the only new paths in /dev are
# /dev/bcastN, udev's /dev/char/MAJ:MIN -> ../bcastN, /dev/bcast/NAME
# (and /dev/bcast itself the first time).
create_clean() {
	dev_tree >/tmp/before
	out=$(create --mode 0640 -- "$1" 2>&1) || { fail "bcastctl create '$1': $out"; return 1; }
	settle
	dev_tree >/tmp/after
	dev=$(dev_of "$1") || { fail "no ring '$1' in /sys/class/bcast"; return 1; }
	mm=$(cat "/sys/class/bcast/$dev/dev")
	want=$(printf '%s\n' /dev/bcast "/dev/bcast/$1" "/dev/$dev" "/dev/char/$mm" | sort)
	new=$(added /tmp/before /tmp/after | grep -vx /dev/bcast)
	want=$(printf '%s\n' "$want" | grep -vx /dev/bcast)
	[ "$new" = "$want" ] || { fail "new in /dev: {$(oneline "$new")}, want {$(oneline "$want")}"; return 1; }
	[ "$(readlink "/dev/char/$mm")" = "../$dev" ] ||
		{ fail "/dev/char/$mm -> $(readlink "/dev/char/$mm")"; return 1; }
	link_ok "$1" && node_is "$1" root:bcast 640
}

# refused NAME: bcastctl create refuses it and nothing appears in /dev
# or /sys/class/bcast.
refused() {
	dev_tree >/tmp/before
	ls /sys/class/bcast >/tmp/sys-before
	if out=$(create --mode 0640 -- "$1" 2>&1); then
		fail "bcastctl create '$1' succeeded ($out)"
		return 1
	fi
	settle
	dev_tree >/tmp/after
	ls /sys/class/bcast >/tmp/sys-after
	new=$(added /tmp/before /tmp/after)
	[ -z "$new" ] || { fail "refused ('$out') but new in /dev: {$(oneline "$new")}"; return 1; }
	cmp -s /tmp/sys-before /tmp/sys-after || { fail "/sys/class/bcast changed"; return 1; }
	note "'$1': $out"
}

destroy() { out=$("$CTL" destroy -- "$1" 2>&1) || { fail "bcastctl destroy '$1': $out"; return 1; }; }

# ----------------------------------------------------------- 0 rings=
# The module's rings= rings are root:root 0600 (kmod/main.c), ctl_gid or not.
boot_ring() { node_is boot.q root:root 600 && link_ok boot.q; }
check "rings=boot.q at insmod: /dev/bcastN root:root 0600, /dev/bcast/boot.q -> it" boot_ring
check "the loaded module is version $(cat "$DIR/VERSION") (/sys/module/bcast/version)" \
	test "$(cat /sys/module/bcast/version)" = "$(cat "$DIR/VERSION")"

# ---------------------------------------------------------------- 1 ctl
ctl_ok() {
	got=$(stat -c '%U:%G %a' /dev/bcast-ctl 2>&1)
	[ "$got" = "root:bcast 660" ] || { fail "/dev/bcast-ctl is '$got', want 'root:bcast 660'"; return 1; }
}
check "/dev/bcast-ctl is root:bcast 0660 (udev; the kernel made it 0666 for ctl_gid)" ctl_ok
check "alice (group bcast) may open /dev/bcast-ctl" as alice 'exec 3</dev/bcast-ctl'
bob_ctl() {
	if out=$(as bob 'exec 3</dev/bcast-ctl' 2>&1); then
		fail "bob opened it"
		return 1
	fi
	note "bob: $out"
}
check "bob (not in bcast) may not open /dev/bcast-ctl" bob_ctl

# -------------------------------------------------------------- 2 a ring
check "root creates 'quotes' (mode 0640): /dev/bcastN root:bcast 0640, /dev/bcast/quotes -> ../bcastN, nothing else new in /dev" \
	create_clean quotes
Q=$(dev_of quotes)
note "quotes is $Q ($(ls -l /dev/bcast/quotes 2>&1))"
check "alice (group bcast) may open /dev/bcast/quotes for reading" as alice 'exec 3</dev/bcast/quotes'
bob_ring() {
	if out=$(as bob 'exec 3</dev/bcast/quotes' 2>&1); then fail "bob opened it"; return 1; fi
}
check "bob may not open /dev/bcast/quotes" bob_ring
check "bcastctl info /dev/bcast/quotes finds the ring by its link" \
	sh -c "'$CTL' info /dev/bcast/quotes | grep -q quotes"

# ------------------------------------------------------------ 3 names
N63=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_
N64=${N63}-
[ ${#N63} -eq 63 ] || note "N63 is ${#N63} bytes"
for name in "$N63" ... - -lead _lead .lead ..lead a..b trail. MiXeD.Case-09_z mixed.case-09_z x; do
	check "name '$name' (${#name} bytes): link at /dev/bcast/$name only" create_clean "$name"
done
check "'MiXeD.Case-09_z' and 'mixed.case-09_z' are two links to two nodes" \
	test "$(readlink /dev/bcast/MiXeD.Case-09_z)" != "$(readlink /dev/bcast/mixed.case-09_z)"
for name in a/b /abs ../x .. . "a b" "$N64" "" "x*y" "$(printf 'caf\303\251')" "tab$(printf '\t')x" "new
line" "shm:x"; do
	check "invalid name '$name' (${#name} bytes) refused, nothing new in /dev" refused "$name"
done
check "/dev/bcast holds exactly one correct link per ring" links_match

# --------------------------------------------------------------- 4 alice
alice_ring() {
	dev_tree >/tmp/before
	out=$(as alice "'$CTL' create --size $SIZE --mode 0640 --device alice.r" 2>&1) ||
		{ fail "alice: bcastctl create: $out"; return 1; }
	settle
	node_is alice.r alice:bcast 640 && link_ok alice.r
}
check "alice creates 'alice.r': /dev/bcastN alice:bcast 0640 (owner alice, group ctl_gid's), link correct" alice_ring
alice_own_group() {
	out=$(as alice "'$CTL' create --size $SIZE --mode 0640 --device alice.x" 2>&1) ||
		{ fail "$out"; return 1; }
	settle
	# The ring's group is what the kernel enforces: bob gets EACCES, alice
	# (owner) and root may open.
	as alice "exec 3</dev/bcast/alice.x" || { fail "alice cannot open her ring"; return 1; }
	if as bob "exec 3</dev/bcast/alice.x" 2>/dev/null; then fail "bob opened alice's ring"; return 1; fi
	destroy alice.x
}
check "alice's ring opens for alice, not for bob" alice_own_group
bob_create() {
	if out=$(as bob "'$CTL' create --size $SIZE --device bob.r" 2>&1); then
		fail "bob created a ring"
		return 1
	fi
	settle
	[ ! -e /dev/bcast/bob.r ] || { fail "/dev/bcast/bob.r exists"; return 1; }
	note "bob: $out"
}
check "bob may not create a ring (no /dev/bcast/bob.r)" bob_create
alice_destroy() {
	out=$(as alice "'$CTL' destroy alice.r" 2>&1) || { fail "alice: destroy: $out"; return 1; }
	settle
	if [ -e /dev/bcast/alice.r ] || [ -L /dev/bcast/alice.r ]; then
		fail "/dev/bcast/alice.r still there"
		return 1
	fi
	links_match
}
check "alice destroys her ring: its link goes, the others stay" alice_destroy

# -------------------------------------------------------------- 5 destroy
destroy_one() {
	dev=$(dev_of "$1")
	destroy "$1" || return 1
	settle
	[ ! -e "/dev/$dev" ] || { fail "/dev/$dev still there"; return 1; }
	[ ! -L "/dev/bcast/$1" ] || { fail "/dev/bcast/$1 still there"; return 1; }
	[ ! -L "/dev/char/$MAJOR:${dev#bcast}" ] || { fail "/dev/char/$MAJOR:${dev#bcast} still there"; return 1; }
	links_match
}
check "destroy '...': /dev/bcastN, /dev/bcast/... and /dev/char/M:N go; the other links stay" destroy_one ...
check "destroy '-lead' likewise" destroy_one -lead
destroy_by_link() {
	dev=$(dev_of .lead)
	out=$("$CTL" destroy /dev/bcast/.lead 2>&1) || { fail "destroy /dev/bcast/.lead: $out"; return 1; }
	settle
	if [ -L /dev/bcast/.lead ] || [ -e "/dev/$dev" ]; then
		fail "link or node still there"
		return 1
	fi
	links_match
}
check "bcastctl destroy /dev/bcast/.lead (by the link) removes it" destroy_by_link

# A destroyed ring's name for a new ring: the freed minor goes to another
# ring first, so the new one has another minor.
reuse() {
	old=$(dev_of quotes)
	destroy quotes && settle
	create --mode 0640 filler >/dev/null && settle
	create --mode 0640 quotes && settle
	new=$(dev_of quotes)
	note "quotes was $old, filler is $(dev_of filler), quotes is $new"
	[ "$old" != "$new" ] || note "(the same minor again)"
	link_ok quotes && link_ok filler && node_is quotes root:bcast 640 && links_match
}
check "a new 'quotes' after destroying it links to its own node" reuse
# The same without waiting for udev in between: the remove of one node and
# the add of the next with the same name are in udevd's queue together.
reuse_fast() {
	for i in 1 2 3 4 5; do
		destroy quotes || return 1
		create --mode 0640 quotes || { fail "create quotes (round $i)"; return 1; }
		destroy filler || return 1
		create --mode 0640 filler || { fail "create filler (round $i)"; return 1; }
	done
	settle
	note "quotes is $(dev_of quotes), filler is $(dev_of filler)"
	link_ok quotes && link_ok filler && links_match
}
check "5 quick destroy/create rounds of 'quotes' and 'filler' (no settle between): links right" reuse_fast
swap() {
	# two rings swap their names with no settle between
	destroy quotes && destroy filler || return 1
	if ! create --mode 0640 filler || ! create --mode 0640 quotes; then
		fail "create"
		return 1
	fi
	settle
	link_ok quotes && link_ok filler && links_match
}
check "'quotes' and 'filler' swap minors: links right" swap
change_keeps() {
	udevadm trigger --action=change --subsystem-match=bcast --subsystem-match=misc
	settle
	ctl_ok && node_is quotes root:bcast 640 && links_match
}
check "a change uevent for every bcast device keeps links, owners and modes" change_keeps

# --------------------------------------------------------------- 6 rmmod
rmmod_clean() {
	note "rings before rmmod: $(ring_names | oneline)"
	out=$(rmmod bcast 2>&1) || { fail "rmmod bcast: $out"; return 1; }
	settle
	[ ! -e /sys/module/bcast ] || { fail "bcast still loaded"; return 1; }
	left=$(ls -d /dev/bcast[0-9]* /dev/bcast-ctl 2>/dev/null)
	[ -z "$left" ] || { fail "left in /dev: $(oneline "$left")"; return 1; }
	if [ -d /dev/bcast ]; then
		left=$(ls -A /dev/bcast)
		[ -z "$left" ] || { fail "left in /dev/bcast: $(oneline "$left")"; return 1; }
	fi
	left=$(find /dev/char -name "$MAJOR:*" 2>/dev/null)
	[ -z "$left" ] || { fail "left in /dev/char: $(oneline "$left")"; return 1; }
	note "/dev/bcast: $([ -d /dev/bcast ] && echo 'empty directory' || echo gone)"
}
check "rmmod bcast with $(ring_names | wc -l) rings left: every node and link gone, /dev/bcast empty or gone" rmmod_clean

# ------------------------------------------------------- 8 coldplug
# The module (and a ring) before udevd: devtmpfs alone must show the
# ring's owner, group and mode; udevd's coldplug then adds the rule's.
stop_udevd
insmod "$MOD" ctl_gid=$BCAST_GID rings=cold.boot || bail "insmod again failed"
MAJOR=$(sed -n 's/^ *\([0-9]*\) bcast$/\1/p' /proc/devices)
create --mode 0640 cold || bail "create 'cold' without udevd failed"
as alice "'$CTL' create --size $SIZE --mode 0604 --device cold.alice" >/dev/null ||
	bail "alice: create 'cold.alice' without udevd failed"
devtmpfs_only() {
	got=$(stat -c '%U:%G %a' /dev/bcast-ctl)
	[ "$got" = "root:root 666" ] || { fail "/dev/bcast-ctl is '$got' (kernel: root:root 666 with ctl_gid)"; return 1; }
	node_is cold root:bcast 640 && node_is cold.alice alice:bcast 604 || return 1
	[ ! -L /dev/bcast/cold ] || { fail "/dev/bcast/cold exists without udevd"; return 1; }
}
check "without udevd (devtmpfs only): bcast-ctl root:root 0666, the rings' nodes root:bcast 0640 and alice:bcast 0604" devtmpfs_only
start_udevd || bail "systemd-udevd did not start again"
coldplug() {
	ctl_ok && node_is cold root:bcast 640 && node_is cold.alice alice:bcast 604 &&
		node_is cold.boot root:root 600 && links_match
}
check "udevd started afterwards (coldplug): bcast-ctl root:bcast 0660, nodes unchanged, links for the 3 rings" coldplug
check "destroy 'cold' after coldplug: its link goes" destroy_one cold
check "rmmod again: every node and link gone" rmmod_clean
stop_udevd

# ------------------------------------------------------------ 7 the log
# systemd colours a console line by its level: grey debug, plain info,
# bold notice, yellow warning, red error and worse.  A line about the rule
# file (or a bcast device) in any other colour than grey or bold is a
# warning or an error.
ESC=$(printf '\033')
GREY="${ESC}[0;38;5;245m"
BOLD="${ESC}[0;1;39m"
bad_lines() {
	# $1: the log, $2: what the line must mention
	grep -aF -e "$2" "$1" | grep -a "^$ESC\[" | grep -avF -e "$GREY" -e "$BOLD" |
		sed "s/$ESC\[[0-9;]*m//g" | sort -u
}
log_clean() {
	[ -s "$LOG" ] || { fail "no udevd log"; return 1; }
	grep -aqF "$GREY" "$LOG" || { fail "no colours in the log: its levels cannot be told"; return 1; }
	grep -aq '60-bcast.rules' "$LOG" || { fail "the log never mentions 60-bcast.rules (was it read?)"; return 1; }
	grep -aqF "LINK 'bcast/quotes'" "$LOG" || { fail "the log shows no LINK 'bcast/quotes'"; return 1; }
	bad=$(bad_lines "$LOG" 60-bcast.rules)
	[ -z "$bad" ] || { fail "$(echo "$bad" | head -n 5 | tr '\n' '|')"; return 1; }
}
check "udevd's --debug log: 60-bcast.rules read and applied, no error or warning about it" log_clean
log_devices_clean() {
	bad=$(bad_lines "$LOG" bcast)
	[ -z "$bad" ] || { fail "$(echo "$bad" | head -n 5 | tr '\n' '|')"; return 1; }
}
check "udevd's log: no error or warning about a bcast device" log_devices_clean
bad_lines "$LOG" "" >/tmp/bad
note "udevd log: $(wc -l <"$LOG") lines, $(grep -c . /tmp/bad) distinct errors and warnings in all"
sed 's/^/#   /' /tmp/bad | head -n 20

# The check above would see a broken rule: udevadm test of a rule naming
# a group that does not exist, a line with a bad key.
selftest() {
	mkdir -p /run/udev/rules.d
	printf '%s\n' 'SUBSYSTEM=="mem", KERNEL=="null", GROUP="no-such-group"' \
		'SUBSYSTEM=="mem", KERNEL=="null", NOSUCHKEY="x"' >/run/udev/rules.d/61-selftest.rules
	SYSTEMD_COLORS=1 SYSTEMD_LOG_COLOR=1 udevadm test --action=add /sys/class/mem/null \
		>/tmp/selftest.log 2>&1
	rm -f /run/udev/rules.d/61-selftest.rules
	bad=$(bad_lines /tmp/selftest.log 61-selftest.rules)
	[ "$(echo "$bad" | grep -c .)" -ge 2 ] ||
		{ fail "found {$bad} in: $(grep -a 61-selftest /tmp/selftest.log | tr '\n' '|')"; return 1; }
	note "self-test found: $(echo "$bad" | tr '\n' '|')"
}
check "the log check finds both errors of a deliberately broken rule (udevadm test)" selftest

finish
