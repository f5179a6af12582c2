#!/usr/bin/env bash
# tests/vm/udev/test-udev.sh - udev/60-bcast.rules under the real
# systemd-udevd (Debian's udev package of this host) in a tests/vm/run.sh
# guest.  See --help; the checks are in guest-udev.sh.
set -u -o pipefail

PROG=test-udev.sh
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../../.." && pwd)
KERNEL=6.1
MODULE=
TIMEOUT=900

usage() {
	cat <<'EOF'
Usage: tests/vm/udev/test-udev.sh [--kernel 6.1|6.12] [--module FILE.ko] [--timeout SECONDS]

Boot Debian's 6.1 or 6.12 kernel (tests/vm/run.sh, no KVM) with this host's
systemd-udevd (/bin/udevadm, also copied as systemd-udevd, with the
libraries it links), udev/60-bcast.rules, Debian's 50-udev-default.rules,
bcastctl, bcast.ko and tests/vm/udev/guest-udev.sh, and run the checks:
the rule's group and mode of /dev/bcast-ctl, the kernel's owner, group and
mode of /dev/bcastN kept, /dev/bcast/NAME links for names at the edges,
refused names leaving nothing, rings of a non-root member of group bcast,
links after destroy, name reuse and rmmod, coldplug (module loaded before
udevd), and no udevd error or warning about the rule.

udevd starts first; the guest then loads bcast.ko itself with
ctl_gid=<gid of group bcast> (run.sh is given --no-module).

Options:
  --kernel 6.1|6.12  kernel to boot (default 6.1)
  --module FILE.ko   use this bcast.ko; default: build one for that kernel
                     with tests/vm/build-module.sh
  --timeout SECONDS  run.sh's time limit for the VM (default 900)
  -h, --help         this help

Builds the library and tools first (make -s lib tools).  Needs the udev
package (installed with apt-get when run as root).  Exits with run.sh's
status; the last line is run.sh's "vm(KERNEL): N passed, N failed".
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	-h|--help) usage; exit 0 ;;
	--kernel) [ $# -ge 2 ] || die "--kernel needs a value"; KERNEL=$2; shift 2 ;;
	--kernel=*) KERNEL=${1#*=}; shift ;;
	--module) [ $# -ge 2 ] || die "--module needs a file"; MODULE=$2; shift 2 ;;
	--module=*) MODULE=${1#*=}; shift ;;
	--timeout) [ $# -ge 2 ] || die "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done
[ -z "$MODULE" ] || [ -f "$MODULE" ] || die "module '$MODULE' not found"

# shellcheck source=tests/lib.sh
. "$TOP/tests/lib.sh"

# The udev package: udevadm is the daemon too (systemd-udevd links to it).
UDEVADM=$(command -v udevadm || true)
[ -n "$UDEVADM" ] || [ ! -x /bin/udevadm ] || UDEVADM=/bin/udevadm
if [ -z "$UDEVADM" ] && ! pkg_installed udev; then
	install_packages "$PROG" udev || die "udevadm not found (package udev)"
	UDEVADM=/bin/udevadm
fi
[ -x "$UDEVADM" ] || die "udevadm not found (package udev)"
UDEVADM=$(readlink -f "$UDEVADM")
DEFAULT_RULES=/lib/udev/rules.d/50-udev-default.rules

make -s -C "$TOP" lib tools || die "make lib tools failed"
BCASTCTL=$TOP/build/tools/bcastctl
[ -x "$BCASTCTL" ] || die "$BCASTCTL not built"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bcast-udev.XXXXXX") || die "mktemp failed"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

RUN=$TOP/tests/vm/run.sh
if [ -z "$MODULE" ]; then
	KDIR=$(bash "$RUN" --kernel "$KERNEL" --print-kdir) || die "no build directory for kernel $KERNEL"
	MODULE=$(bash "$TOP/tests/vm/build-module.sh" "$KDIR" "$WORK/module") ||
		die "building bcast.ko for $KERNEL failed"
fi

# Everything the guest needs, in one folder (/opt/udev in the guest;
# run.sh copies the libraries udevadm and bcastctl link).
S=$WORK/udev
mkdir -p "$S"
cp -L "$UDEVADM" "$S/udevadm"
cp -L "$UDEVADM" "$S/systemd-udevd"
cp "$TOP/udev/60-bcast.rules" "$S/"
[ -f "$DEFAULT_RULES" ] && cp "$DEFAULT_RULES" "$S/"
cp -L "$BCASTCTL" "$S/bcastctl"
cp -L "$MODULE" "$S/bcast.ko"
cp "$HERE/guest-udev.sh" "$S/"
cp "$TOP/VERSION" "$S/"

echo "$PROG: $("$UDEVADM" --version | head -n 1 | sed 's/^/udev /'), module $MODULE"
bash "$RUN" --kernel "$KERNEL" --no-module --timeout "$TIMEOUT" --add "$S" -- \
	'sh /opt/udev/guest-udev.sh /opt/udev'
