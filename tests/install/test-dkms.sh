#!/usr/bin/env bash
# DKMS: the module sources as `make install` puts them (with dkms.conf),
# then dkms add, build and install for every kernel whose headers are
# installed (Debian's 6.1 and 6.12), in trees of its own under OUT (the
# system's /var/lib/dkms and /lib/modules are not touched).  Each built
# bcast.ko must carry the kernel's vermagic and the VERSION file's version;
# it is left, uncompressed, at OUT/modules/RELEASE/bcast.ko for the VM
# tests to boot.
# Usage: bash tests/install/test-dkms.sh [OUT] (default build/dkms; TAP).
set -u -o pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

case "${1:-}" in
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
out=$(mkdir -p "${1:-build/dkms}" && cd "${1:-build/dkms}" && pwd)
VERSION=$(cat VERSION)
missing=()
command -v dkms >/dev/null || missing+=(dkms)
ls -d /lib/modules/*/build >/dev/null 2>&1 || missing+=(linux-headers-amd64)
install_packages test-dkms ${missing[@]+"${missing[@]}"} || exit 1

rm -rf "$out/src" "$out/tree" "$out/install" "$out/modules"
mkdir -p "$out/tree" "$out/install" "$out/modules"
make -s install DESTDIR="$out/src" PREFIX=/usr >"$out/install.log" 2>&1
tap_result $? "make install puts the module sources in /usr/src/bcast-$VERSION" ||
    { cat "$out/install.log"; tap_summary dkms; exit 1; }
dkms=(dkms --dkmstree "$out/tree" --sourcetree "$out/src/usr/src" --installtree "$out/install")
"${dkms[@]}" add -m bcast -v "$VERSION" >"$out/add.log" 2>&1
tap_result $? "dkms add bcast/$VERSION" || cat "$out/add.log"

kernels=0
for build in /lib/modules/*/build; do
    krel=$(basename "$(dirname "$build")")
    [ -e "$build/Makefile" ] || continue
    kernels=$((kernels + 1))
    log=$out/build-$krel.log
    "${dkms[@]}" build -m bcast -v "$VERSION" -k "$krel" >"$log" 2>&1
    tap_result $? "dkms build for $krel" || { tail -n 30 "$log"; tail -n 30 "$out/tree/bcast/$VERSION/build/make.log" 2>/dev/null; continue; }
    mkdir -p "$out/install/$krel"
    "${dkms[@]}" install -m bcast -v "$VERSION" -k "$krel" --no-depmod >>"$log" 2>&1
    tap_result $? "dkms install for $krel" || { tail -n 20 "$log"; continue; }
    ko=$(ls "$out/install/$krel/updates/dkms/"bcast.ko* 2>/dev/null | head -n 1)
    mkdir -p "$out/modules/$krel"
    case "$ko" in
        *.xz) xz -dc "$ko" >"$out/modules/$krel/bcast.ko" ;;
        *.zst) zstd -qdc "$ko" >"$out/modules/$krel/bcast.ko" ;;
        *.ko) cp "$ko" "$out/modules/$krel/bcast.ko" ;;
        *) false ;;
    esac
    tap_result $? "dkms installed bcast.ko for $krel (${ko#"$out/"})" || continue
    m=$out/modules/$krel/bcast.ko
    tap_result "$([ "$(modinfo -F vermagic "$m" | awk '{print $1}')" = "$krel" ]; echo $?)" \
        "$krel: vermagic is the kernel's"
    tap_result "$([ "$(modinfo -F version "$m")" = "$VERSION" ]; echo $?)" \
        "$krel: modinfo version is $VERSION"
    "${dkms[@]}" status -m bcast -v "$VERSION" -k "$krel" 2>/dev/null | grep -q 'installed$'
    tap_result $? "$krel: dkms status says installed"
done
tap_result "$([ "$kernels" -ge 2 ]; echo $?)" "kernels with headers: $kernels (6.1 and 6.12 expected)"
"${dkms[@]}" remove -m bcast -v "$VERSION" --all >"$out/remove.log" 2>&1
tap_result $? "dkms remove --all" || cat "$out/remove.log"
tap_result "$([ -z "$(find "$out/install" -name 'bcast.ko*')" ]; echo $?)" \
    "dkms remove took every installed bcast.ko away"
tap_summary dkms
