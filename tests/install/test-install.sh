#!/usr/bin/env bash
# make install / make uninstall into an empty DESTDIR, with the standard
# and with custom directories: every file lands where the variables say,
# bcast.pc describes the tree, a program built with pkg-config (shared and
# --static) runs against a ring, and uninstall leaves the tree as it was.
# Usage: bash tests/install/test-install.sh (TAP, "N passed, N failed").
set -u -o pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

case "${1:-}" in
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
VERSION=$(cat VERSION)
MAJOR=${VERSION%%.*}
work=$(mktemp -d "${TMPDIR:-/tmp}/bcast-install.XXXXXX")
trap 'rm -rf "$work"' EXIT

make -s lib tools >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }

check() { tap_check "$work/log" "$@"; }
# tree DIR: every file and link under DIR, relative, sorted.
tree() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort); }

# install_tree LABEL DESTDIR VAR=VALUE...: install, and check the result.
install_tree() {
    local label=$1 d=$2
    shift 2
    make -s install DESTDIR="$d" "$@" >"$work/install.log" 2>&1
    tap_result $? "$label: make install $*" || { cat "$work/install.log"; return 1; }
}

expect_files() {
    local label=$1 d=$2 f missing=
    shift 2
    for f in "$@"; do [ -e "$d$f" ] || [ -L "$d$f" ] || missing+=" $f"; done
    [ -z "$missing" ] || echo "# $label: missing:$missing"
    tap_result "$([ -z "$missing" ]; echo $?)" "$label: the headers, libraries, bcast.pc, tools, pages, rule, DKMS sources where they belong"
}

# ---- the defaults: PREFIX=/usr/local ----
d=$work/default
install_tree "defaults" "$d"
expect_files defaults "$d" /usr/local/include/bcast.h /usr/local/include/bcast/linux/bcast.h \
    /usr/local/lib/libbcast.a /usr/local/lib/libbcast.so.$VERSION \
    /usr/local/lib/libbcast.so.$MAJOR /usr/local/lib/libbcast.so \
    /usr/local/lib/pkgconfig/bcast.pc /usr/local/bin/bcastctl /usr/local/bin/bcast-pub \
    /usr/local/bin/bcast-sub /usr/local/bin/bcast-bench /usr/local/bin/bcast-bridge \
    /usr/local/share/man/man1/bcast-bridge.1 /usr/local/share/man/man8/bcastctl.8 /usr/local/share/man/man1/bcast-pub.1 \
    /usr/local/share/man/man3/libbcast.3 /usr/local/share/man/man7/bcast.7 \
    /etc/udev/rules.d/60-bcast.rules \
    /usr/local/share/doc/bcast/examples/modprobe.d/bcast.conf \
    /usr/local/src/bcast-$VERSION/dkms.conf /usr/local/src/bcast-$VERSION/Kbuild \
    /usr/local/src/bcast-$VERSION/kmod/Kbuild /usr/local/src/bcast-$VERSION/kmod/main.c \
    /usr/local/src/bcast-$VERSION/include/uapi/linux/bcast.h /usr/local/src/bcast-$VERSION/VERSION
check "defaults: nothing in include/linux, the kernel headers' directory" \
    test ! -e "$d/usr/local/include/linux"
pages=$(find man -name '*.[1-8]' | wc -l)
installed=$(find "$d/usr/local/share/man" -type f | wc -l)
check "defaults: all $pages manual pages installed ($installed)" test "$pages" -eq "$installed" -a "$pages" -gt 0
check "defaults: the soname is libbcast.so.$MAJOR" \
    sh -c "readelf -d '$d/usr/local/lib/libbcast.so.$VERSION' | grep -q 'SONAME.*\[libbcast.so.$MAJOR\]'"
check "defaults: libbcast.so -> libbcast.so.$MAJOR -> libbcast.so.$VERSION" \
    test "$(readlink "$d/usr/local/lib/libbcast.so")" = "libbcast.so.$MAJOR" -a \
         "$(readlink "$d/usr/local/lib/libbcast.so.$MAJOR")" = "libbcast.so.$VERSION"
check "defaults: dkms.conf names version $VERSION" \
    grep -qx "PACKAGE_VERSION=\"$VERSION\"" "$d/usr/local/src/bcast-$VERSION/dkms.conf"
for t in bcastctl bcast-pub bcast-sub bcast-bench bcast-bridge; do
    check "defaults: $t --version says $VERSION" \
        sh -c "'$d/usr/local/bin/$t' --version | grep -qw '$VERSION'"
done
make -s uninstall DESTDIR="$d" >"$work/uninstall.log" 2>&1
tap_result $? "defaults: make uninstall"
left=$(find "$d" -mindepth 1 | head -n 5)
[ -z "$left" ] || echo "# left after uninstall: $left"
check "defaults: uninstall leaves the DESTDIR empty" test -z "$left"

# ---- custom directories, a program built with pkg-config ----
d=$work/custom
vars=(PREFIX=/opt/bc LIBDIR=/opt/bc/lib64 INCLUDEDIR=/opt/bc/inc BINDIR=/opt/bc/tools
      MANDIR=/opt/bc/manual DOCDIR=/opt/bc/doc DKMSSRCDIR=/opt/bc/dkms UDEVRULESDIR=/opt/bc/udev)
mkdir -p "$d/opt/bc/tools" && echo keep >"$d/opt/bc/tools/not-ours"
install_tree "custom" "$d" "${vars[@]}"
expect_files custom "$d" /opt/bc/inc/bcast.h /opt/bc/inc/bcast/linux/bcast.h \
    /opt/bc/lib64/libbcast.so.$VERSION /opt/bc/lib64/pkgconfig/bcast.pc \
    /opt/bc/tools/bcastctl /opt/bc/manual/man8/bcastctl.8 /opt/bc/doc/examples/modprobe.d/bcast.conf \
    /opt/bc/dkms/dkms.conf /opt/bc/udev/60-bcast.rules
export PKG_CONFIG_SYSROOT_DIR=$d PKG_CONFIG_LIBDIR=$d/opt/bc/lib64/pkgconfig
check "custom: pkg-config --modversion bcast is $VERSION" \
    test "$(pkg-config --modversion bcast)" = "$VERSION"
check "custom: pkg-config --cflags names both include directories" \
    test "$(pkg-config --cflags bcast | xargs)" = "-I$d/opt/bc/inc -I$d/opt/bc/inc/bcast"
# shellcheck disable=SC2046
check "custom: a program builds with pkg-config --cflags --libs bcast" \
    cc -Wall -Werror -o "$work/ring-user" tests/install/ring-user.c $(pkg-config --cflags --libs bcast)
check "custom: it runs with the installed libbcast.so.$MAJOR" \
    sh -c "LD_LIBRARY_PATH='$d/opt/bc/lib64' ldd '$work/ring-user' | grep -q '$d/opt/bc/lib64/libbcast.so.$MAJOR' &&
           LD_LIBRARY_PATH='$d/opt/bc/lib64' '$work/ring-user' shm:bcast-install-$$"
# shellcheck disable=SC2046
check "custom: a program builds with pkg-config --static" \
    cc -Wall -Werror -static -o "$work/ring-user-static" tests/install/ring-user.c \
        $(pkg-config --static --cflags --libs bcast)
check "custom: the static one needs no libbcast.so and runs" \
    sh -c "! readelf -d '$work/ring-user-static' 2>/dev/null | grep -q libbcast &&
           '$work/ring-user-static' shm:bcast-install-s$$"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR
make -s uninstall DESTDIR="$d" "${vars[@]}" >"$work/uninstall.log" 2>&1
tap_result $? "custom: make uninstall"
check "custom: uninstall removes exactly what install put there" \
    test "$(tree "$d")" = "opt/bc/tools/not-ours"
tap_summary "install"
