#!/usr/bin/env bash
# Build bcast.ko for one kernel, in a copy of the tree (one kernel's objects
# must not leak into another's build), with sparse; any compiler or sparse
# warning fails.  Usage: tests/vm/build-module.sh KDIR OUTDIR
# Prints the path of the built bcast.ko.
set -u -o pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"
[ $# -eq 2 ] || { echo "usage: tests/vm/build-module.sh KDIR OUTDIR" >&2; exit 2; }
kdir=$1 out=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$kdir" ] || { echo "build-module: no kernel build directory '$kdir'" >&2; exit 1; }
command -v sparse >/dev/null || install_packages build-module sparse || exit 1
mkdir -p "$out/src"
cp -r "$top/Kbuild" "$top/VERSION" "$top/kmod" "$top/include" "$out/src/"
rm -f "$out"/src/kmod/*.o "$out"/src/kmod/*.ko "$out"/src/kmod/*.mod* \
      "$out"/src/kmod/.*.cmd
echo "build-module: building bcast.ko against $kdir (with sparse)" >&2
if ! make -s -C "$kdir" M="$out/src" C=1 modules >"$out/kbuild.log" 2>&1; then
    cat "$out/kbuild.log" >&2; echo "build-module: module build failed" >&2; exit 1
fi
if grep -q 'warning:' "$out/kbuild.log"; then
    cat "$out/kbuild.log" >&2
    echo "build-module: the compiler or sparse warned" >&2; exit 1
fi
echo "$out/src/kmod/bcast.ko"
