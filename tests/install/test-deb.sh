#!/usr/bin/env bash
# The Debian packages: dpkg-buildpackage -us -uc -b (make deb), lintian
# with no error, then an operator's install into a clean Debian root (a
# debootstrap minbase chroot of bookworm, cached under build/chroot):
#   apt-get install ./libbcast0_*.deb ./libbcast-dev_*.deb ./bcast-tools_*.deb
#                   ./bcast-bridge_*.deb ./bcast-dkms_*.deb
# with kernel headers there, so that DKMS builds bcast.ko on installation.
# In the root: the group, the rule, the module, the pages, the tools, and a
# program built with pkg-config (shared and --static) running against a
# ring; then apt-get purge leaves none of the packages' files.
# Usage: bash tests/install/test-deb.sh [--no-chroot] (TAP; root for the chroot).
set -u -o pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

CHROOT=1
case "${1:-}" in
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --no-chroot) CHROOT= ;;
    '') ;;
    *) echo "test-deb: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
VERSION=$(cat VERSION)
SUITE=bookworm
MIRROR=${BCAST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=build/chroot
mkdir -p "$CACHE"
log=$CACHE/test-deb.log
: >"$log"

missing=()
for p in dpkg-dev debhelper dh-dkms lintian fakeroot libnats-dev; do
    pkg_installed "$p" || missing+=("$p")
done
[ -z "$CHROOT" ] || command -v debootstrap >/dev/null || missing+=(debootstrap)
install_packages test-deb ${missing[@]+"${missing[@]}"} || exit 1

# check WHAT CMD...: one TAP line; the command's output goes to the log.
check() { tap_check "$log" "$@"; }

# ---- build ----
make deb >"$CACHE/deb.log" 2>&1
tap_result $? "dpkg-buildpackage -us -uc -b (make deb)" ||
    { tail -n 30 "$CACHE/deb.log"; tap_summary deb; exit 1; }
debs=()
for p in libbcast0 libbcast-dev bcast-tools bcast-bridge; do
    debs+=("build/deb/${p}_${VERSION}_amd64.deb")
done
debs+=("build/deb/bcast-dkms_${VERSION}_all.deb")
for d in "${debs[@]}"; do check "built $(basename "$d")" test -s "$d"; done
check "libbcast0's shlibs name libbcast.so.${VERSION%%.*}" \
    sh -c "dpkg-deb --ctrl-tarfile build/deb/libbcast0_${VERSION}_amd64.deb | tar -xO ./shlibs | grep -q '^libbcast ${VERSION%%.*} libbcast0'"

lintian --fail-on error --no-tag-display-limit build/deb/bcast_"$VERSION"_amd64.changes \
    >"$CACHE/lintian.log" 2>&1
status=$?
grep -E '^[EWI]: ' "$CACHE/lintian.log" | sed 's/^/# lintian: /'
tap_result $status "lintian: no error ($(grep -c '^E: ' "$CACHE/lintian.log") errors, $(grep -c '^W: ' "$CACHE/lintian.log") warnings)"

if [ -z "$CHROOT" ]; then tap_summary deb; exit; fi
if [ "$(id -u)" != 0 ]; then
    tap_not_ok "the clean-root install needs root (chroot, mount)"
    tap_summary deb; exit 1
fi

# ---- a clean root ----
base=$CACHE/$SUITE-minbase.tar
if [ ! -s "$base" ]; then
    rm -rf "$CACHE/bootstrap"
    echo "# debootstrap --variant=minbase $SUITE (once; cached as $base)"
    if debootstrap --variant=minbase "$SUITE" "$CACHE/bootstrap" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
        tar -C "$CACHE/bootstrap" -cf "$base.tmp" . && mv "$base.tmp" "$base"
    fi
    rm -rf "$CACHE/bootstrap"
fi
check "a clean $SUITE root (debootstrap minbase)" test -s "$base" ||
    { tail -n 20 "$CACHE/debootstrap.log"; tap_summary deb; exit 1; }
root=$(mktemp -d "$PWD/$CACHE/root.XXXXXX")
mounts=()
cleanup() {
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[$i]}" 2>/dev/null; done
    rm -rf "$root"
}
trap cleanup EXIT
tar -C "$root" -xf "$base"
for m in proc sys dev dev/pts dev/shm; do
    mkdir -p "$root/$m"
    case $m in
        proc) mount -t proc proc "$root/proc" ;;
        sys) mount -t sysfs sysfs "$root/sys" ;;
        dev) mount --bind /dev "$root/dev" ;;
        dev/pts) mount --bind /dev/pts "$root/dev/pts" ;;
        dev/shm) mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm" ;;
    esac && mounts+=("$root/$m")
done
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$root/etc/apt/sources.list"
mkdir -p "$root/debs" "$root/test"
cp "${debs[@]}" "$root/debs/"
cp tests/install/ring-user.c "$root/test/"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                DEBIAN_FRONTEND=noninteractive HOME=/root "$@"; }

check "apt-get update in the root" in_root apt-get -q update
# What an operator types, plus kernel headers (DKMS builds for them) and
# what building the test program takes.
in_root apt-get -y -q --no-install-recommends install \
    ./debs/libbcast0_"$VERSION"_amd64.deb ./debs/libbcast-dev_"$VERSION"_amd64.deb \
    ./debs/bcast-tools_"$VERSION"_amd64.deb ./debs/bcast-bridge_"$VERSION"_amd64.deb \
    ./debs/bcast-dkms_"$VERSION"_all.deb \
    linux-headers-amd64 gcc libc6-dev pkgconf >"$CACHE/apt-install.log" 2>&1
tap_result $? "apt-get install ./*.deb into the clean root" ||
    tail -n 30 "$CACHE/apt-install.log"
for p in libbcast0 libbcast-dev bcast-tools bcast-bridge bcast-dkms; do
    check "$p is installed" sh -c "chroot '$root' dpkg-query -W -f='\${Status}' $p | grep -q 'install ok installed'"
done
check "bcast-dkms created the bcast system group" in_root getent group bcast
check "the udev rule is in /lib/udev/rules.d" test -s "$root/lib/udev/rules.d/60-bcast.rules"
check "the modprobe.d file is in /lib/modprobe.d" test -s "$root/lib/modprobe.d/bcast.conf"
krel=$(ls "$root/lib/modules" 2>/dev/null | head -n 1)
check "DKMS built and installed bcast.ko for the root's kernel headers (${krel:-none})" \
    sh -c "[ -n '$krel' ] && ls '$root/lib/modules/$krel/updates/dkms/'bcast.ko* &&
           chroot '$root' dkms status bcast | grep -q 'bcast/$VERSION, $krel, .*installed'"
check "man pages: bcastctl(8), bcast-sub(1), bcast-bridge(1), bcast(7), libbcast(3), bcast_publish(3)" \
    sh -c "cd '$root/usr/share/man' && ls man8/bcastctl.8.gz man1/bcast-sub.1.gz man1/bcast-bridge.1.gz man7/bcast.7.gz man3/libbcast.3.gz man3/bcast_publish.3.gz"
for t in bcastctl bcast-pub bcast-sub bcast-bench bcast-bridge; do
    check "$t --version says $VERSION in the root" sh -c "chroot '$root' $t --version | grep -qw '$VERSION'"
done
check "bcastctl creates, shows and destroys a ring in the root" \
    in_root sh -c 'bcastctl create shm:deb-test --size 64K && bcastctl info shm:deb-test &&
                   bcastctl destroy shm:deb-test'
check "pkg-config --modversion bcast is $VERSION in the root" \
    sh -c "test \"\$(chroot '$root' pkg-config --modversion bcast)\" = '$VERSION'"
check "a program built with pkg-config --cflags --libs bcast runs in the root" \
    in_root sh -c 'cd /test && cc -Wall -Werror -o ring-user ring-user.c $(pkg-config --cflags --libs bcast) &&
                   ldd ./ring-user | grep -q "libbcast.so.0 => /lib/x86_64-linux-gnu/libbcast.so.0\|libbcast.so.0 => /usr/lib/x86_64-linux-gnu/libbcast.so.0" &&
                   ./ring-user shm:deb-shared'
check "a program built with pkg-config --static runs in the root" \
    in_root sh -c 'cd /test && cc -Wall -Werror -static -o ring-user-static ring-user.c $(pkg-config --static --cflags --libs bcast) &&
                   ! ldd ./ring-user-static 2>/dev/null | grep -q libbcast && ./ring-user-static shm:deb-static'

files=$(in_root dpkg -L libbcast0 libbcast-dev bcast-tools bcast-bridge bcast-dkms 2>/dev/null |
        grep -vE '^/(\.|usr|usr/lib|usr/share|usr/share/doc|usr/share/man|usr/share/man/man[0-9]|usr/bin|usr/include|usr/src|lib|lib/udev|lib/udev/rules.d|lib/modprobe.d|usr/lib/x86_64-linux-gnu|usr/lib/x86_64-linux-gnu/pkgconfig)$')
in_root apt-get -y -q purge libbcast0 libbcast-dev bcast-tools bcast-bridge bcast-dkms >"$CACHE/apt-purge.log" 2>&1
tap_result $? "apt-get purge of the five packages" || tail -n 20 "$CACHE/apt-purge.log"
left=
for f in $files; do [ -e "$root$f" ] && [ ! -d "$root$f" ] && left+=" $f"; done
[ -z "$left" ] || echo "# left after purge:$left"
check "purge leaves none of the packages' files" test -z "$left"
check "purge took bcast.ko away (DKMS)" \
    sh -c "! ls '$root/lib/modules/$krel/updates/dkms/'bcast.ko* 2>/dev/null"
tap_summary deb
