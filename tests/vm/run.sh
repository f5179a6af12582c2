#!/usr/bin/env bash
# tests/vm/run.sh - run commands inside a Debian kernel under qemu (TCG, no KVM).
#
# Boots Debian's own kernel (6.1 or 6.12) with a throw-away busybox initramfs
# holding the files given with --add (and --module), runs a command in the
# guest, and judges the result from the serial console.  See --help and
# tests/vm/README.md.
set -u -o pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"

PROG=run.sh
KERNEL=6.1
MODULE=
NO_MODULE=
ADDS=()
TIMEOUT=600
CMD=()
PRINT=
MARKER=BCAST-VM-EXIT
# Kernel console lines that make the run fail (checked on timestamped kernel
# lines and on the dmesg excerpt the guest prints after the command).
KERN_BAD='BUG:|WARNING:|Oops|KASAN|Kernel panic|Call Trace'

usage() {
    cat <<'EOF'
Usage: tests/vm/run.sh [OPTIONS] [-- CMD...]

Boot a Debian kernel under qemu-system-x86_64 (software emulation, no KVM)
with a busybox initramfs, run CMD in the guest and report the result.

Options:
  --kernel 6.1|6.12   Debian kernel to boot (default 6.1).  A full release
                      name with a /boot/vmlinuz-RELEASE file is accepted too.
  --module FILE.ko    copy FILE.ko to /opt and insmod it before CMD
                      (a failed insmod fails the run); without it the
                      module is built from this tree for the booted kernel
                      (with sparse) and loaded
  --no-module         boot without bcast.ko
  --add FILE          copy FILE (or a directory) into /opt; repeatable.
                      Shared libraries of dynamically linked ELF files
                      (per ldd) and the dynamic loader are copied too.
  --timeout SECONDS   host-side time limit for the whole VM (default 600)
  --print-kdir        install what is needed, print the kernel's module
                      build directory (/lib/modules/RELEASE/build), exit
  --print-release     install what is needed, print the kernel release, exit
  -h, --help          show this help

CMD runs under busybox sh in /opt with PATH=/opt:/bin:/sbin and stdin from
/dev/null.  A single argument is taken as shell text ('make -C x && y'),
several arguments as one command with its arguments.  Without CMD the
guest runs /opt/run-tests if it was given with --add; with neither, the
whole VM suite runs (tests/vm/check-vm.sh: library tests, kselftest device
tests, ioctl/mmap fuzzing, load/unload cycles).

Guest set-up: proc, sysfs, devtmpfs, tmpfs on /dev/shm, hugetlbfs on
/dev/hugepages, vm.nr_hugepages=64, 2 CPUs, 1 GiB RAM.

Exit status is 0 only if CMD exited 0 and the console shows no kernel
BUG/WARNING/Oops/KASAN/panic/Call Trace.  A guest kernel that crashes
while booting, before the init script runs (an emulation fault: nothing
of bcast is loaded yet), is booted again, at most three boots in all.  The
verdict is a TAP line ("ok N - vm(KERNEL) ..." or "not ok N - ..."), and
the last line printed is
  vm(KERNEL): N passed, N failed
counting CMD's TAP lines ("ok N"/"not ok N") if it printed any, else its
last "N passed, N failed" line, and the verdict.

When run as root, missing packages are installed with apt-get:
qemu-system-x86 busybox-static cpio and the kernel image and headers
(6.1: linux-image-amd64 linux-headers-amd64;
 6.12: linux-image-6.12-amd64 linux-headers-6.12-amd64).
EOF
}

die() { echo "$PROG: error: $*" >&2; exit 2; }

# The run cannot go on: said as the verdict of a run (but to --print-*).
give_up() {
    [ -n "$PRINT" ] && die "$@"
    echo "$PROG: error: $*" >&2
    tap_not_ok "vm($KERNEL): $*"
    tap_summary "vm($KERNEL)"
    exit 2
}

while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --kernel) [ $# -ge 2 ] || die "--kernel needs a value"; KERNEL=$2; shift 2 ;;
        --kernel=*) KERNEL=${1#*=}; shift ;;
        --module) [ $# -ge 2 ] || die "--module needs a file"; MODULE=$2; shift 2 ;;
        --module=*) MODULE=${1#*=}; shift ;;
        --no-module) NO_MODULE=1; shift ;;
        --add) [ $# -ge 2 ] || die "--add needs a file"; ADDS+=("$2"); shift 2 ;;
        --add=*) ADDS+=("${1#*=}"); shift ;;
        --timeout) [ $# -ge 2 ] || die "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
        --timeout=*) TIMEOUT=${1#*=}; shift ;;
        --print-kdir) PRINT=kdir; shift ;;
        --print-release) PRINT=release; shift ;;
        --) shift; CMD=("$@"); break ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

case "$TIMEOUT" in ''|*[!0-9]*) die "--timeout needs a whole number of seconds" ;; esac
[ "$TIMEOUT" -gt 0 ] || die "--timeout must be positive"
[ -z "$MODULE" ] || [ -f "$MODULE" ] || die "module '$MODULE' not found"
for f in ${ADDS[@]+"${ADDS[@]}"}; do
    [ -e "$f" ] || die "--add '$f': no such file"
done

# ---------------------------------------------------------------- packages
case "$KERNEL" in
    6.1)  KPKGS=(linux-image-amd64 linux-headers-amd64) ;;
    6.12) KPKGS=(linux-image-6.12-amd64 linux-headers-6.12-amd64) ;;
    *)    [ -e "/boot/vmlinuz-$KERNEL" ] ||
              die "--kernel must be 6.1 or 6.12 (or a release with /boot/vmlinuz-RELEASE)"
          KPKGS=() ;;
esac

missing=()
command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
command -v cpio >/dev/null 2>&1 || missing+=(cpio)
if ! pkg_installed busybox-static && ! pkg_installed busybox; then
    missing+=(busybox-static)
fi
for p in ${KPKGS[@]+"${KPKGS[@]}"}; do
    pkg_installed "$p" || missing+=("$p")
done
# INITRD=No: the host never boots these kernels, so skip building an
# initrd for them (the initramfs-tools kernel hook honours it).
export INITRD=No
install_packages "$PROG" ${missing[@]+"${missing[@]}"} ||
    give_up "the packages it needs are missing"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] || BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || give_up "busybox not found"

# ------------------------------------------------------------- the kernel
# The host runs some other kernel: never look at uname -r.
if [ -e "/boot/vmlinuz-$KERNEL" ] && [ "$KERNEL" != 6.1 ] && [ "$KERNEL" != 6.12 ]; then
    VMLINUZ=/boot/vmlinuz-$KERNEL
else
    VMLINUZ=$(printf '%s\n' /boot/vmlinuz-"$KERNEL".* |
              grep -E "^/boot/vmlinuz-$KERNEL\.[0-9]+[-+][^/]*-amd64$" |
              grep -vE -- '-(rt|cloud)-amd64$' | sort -V | tail -n 1)
    [ -n "$VMLINUZ" ] || give_up "no /boot/vmlinuz-$KERNEL.*-amd64 found (packages: ${KPKGS[*]})"
fi
KREL=${VMLINUZ#/boot/vmlinuz-}
[ -r "$VMLINUZ" ] || give_up "$VMLINUZ is not readable (it is root-only on Debian; run as root)"

case "$PRINT" in
    kdir)
        [ -e "/lib/modules/$KREL/build" ] || die "/lib/modules/$KREL/build missing (headers not installed?)"
        echo "/lib/modules/$KREL/build"; exit 0 ;;
    release) echo "$KREL"; exit 0 ;;
esac

if [ ${#CMD[@]} -eq 0 ]; then
    have_rt=
    for f in ${ADDS[@]+"${ADDS[@]}"}; do
        [ "$(basename "$f")" = run-tests ] && have_rt=1
        [ -d "$f" ] && [ -e "$f/run-tests" ] && have_rt=1
    done
    # Nothing to run given: the whole VM suite (it calls back with a
    # run-tests script).
    [ -n "$have_rt" ] || exec bash "$(dirname "$0")/check-vm.sh" --kernel "$KERNEL"
fi

if [ -n "$MODULE" ] && command -v modinfo >/dev/null 2>&1; then
    vm=$(modinfo -F vermagic "$MODULE" 2>/dev/null | awk '{print $1}')
    if [ -n "$vm" ] && [ "$vm" != "$KREL" ]; then
        echo "$PROG: warning: $MODULE was built for $vm, booting $KREL" >&2
    fi
fi

# ------------------------------------------------------------- initramfs
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bcast-vm.XXXXXX") || give_up "mktemp failed"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "$MODULE" ] && [ -z "$NO_MODULE" ]; then
    MODULE=$(bash "$(dirname "$0")/build-module.sh" "/lib/modules/$KREL/build" \
             "$WORK/module") || give_up "building bcast.ko for $KREL failed"
fi

ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,opt,etc,root}
chmod 1777 "$ROOT/tmp"

# copy_libs FILE: copy the shared libraries and loader FILE needs.
copy_libs() {
    local f=$1 magic lib
    magic=$(head -c 4 "$f" 2>/dev/null | od -An -c | tr -d ' ')
    [ "$magic" = '177ELF' ] || return 0
    ldd "$f" 2>/dev/null | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i}' |
        while read -r lib; do
            [ -n "$lib" ] && [ -e "$lib" ] || continue
            [ -e "$ROOT$lib" ] && continue
            mkdir -p "$ROOT$(dirname "$lib")"
            cp -L "$lib" "$ROOT$lib"
            # glibc dlopens libgcc_s for unwinding (pthread_exit/cancel)
            if [[ $lib == */libc.so.* ]]; then
                local g; g=$(dirname "$lib")/libgcc_s.so.1
                if [ -e "$g" ] && [ ! -e "$ROOT$g" ]; then cp -L "$g" "$ROOT$g"; fi
            fi
        done
}

cp -L "$BUSYBOX" "$ROOT/bin/busybox"
copy_libs "$ROOT/bin/busybox"   # no-op for busybox-static
"$ROOT/bin/busybox" --list-full | while read -r app; do
    [ -e "$ROOT/$app" ] || ln -s /bin/busybox "$ROOT/$app"
done
[ -e "$ROOT/bin/sh" ] || ln -s busybox "$ROOT/bin/sh"

for f in ${ADDS[@]+"${ADDS[@]}"}; do
    dest=$ROOT/opt/$(basename "$f")
    [ -e "$dest" ] && echo "$PROG: warning: --add $f replaces an earlier /opt/$(basename "$f")" >&2
    rm -rf "$dest"
    cp -a -L "$f" "$dest" || give_up "cannot copy $f"
    if [ -d "$dest" ]; then
        while IFS= read -r -d '' g; do copy_libs "$g"; done < <(find "$dest" -type f -print0)
    else
        copy_libs "$dest"
    fi
done

if [ -n "$MODULE" ]; then
    cp -L "$MODULE" "$ROOT/opt/$(basename "$MODULE")"
    basename "$MODULE" > "$ROOT/etc/bcast-vm-module"
fi

# The command, as shell text.
if [ ${#CMD[@]} -eq 0 ]; then
    printf '%s\n' '/opt/run-tests' > "$ROOT/etc/bcast-vm-cmd"
elif [ ${#CMD[@]} -eq 1 ]; then
    printf '%s\n' "${CMD[0]}" > "$ROOT/etc/bcast-vm-cmd"
else
    q=
    for a in "${CMD[@]}"; do
        q+="'${a//\'/\'\\\'\'}' "
    done
    printf '%s\n' "$q" > "$ROOT/etc/bcast-vm-cmd"
fi

cat > "$ROOT/init" <<'EOF'
#!/bin/sh
export PATH=/opt:/bin:/sbin:/usr/bin:/usr/sbin HOME=/root TMPDIR=/tmp
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
echo "BCAST-VM-INIT"
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/shm /dev/hugepages /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t hugetlbfs -o mode=1777 hugetlbfs /dev/hugepages
mount -t devpts devpts /dev/pts 2>/dev/null
echo 64 > /proc/sys/vm/nr_hugepages
ip link set lo up 2>/dev/null
hostname bcast-vm

status=0
if [ -s /etc/bcast-vm-module ]; then
    mod=$(cat /etc/bcast-vm-module)
    if insmod "/opt/$mod"; then
        echo "BCAST-VM: insmod $mod: ok"
    else
        status=$?
        [ "$status" -ne 0 ] || status=1
        echo "BCAST-VM: insmod $mod failed (status $status)"
    fi
fi
if [ "$status" -eq 0 ]; then
    cd /opt
    if [ "$(cat /etc/bcast-vm-cmd)" = /opt/run-tests ] && [ ! -e /opt/run-tests ]; then
        echo "BCAST-VM: no command given and /opt/run-tests does not exist"
        status=127
    else
        echo "BCAST-VM: running: $(cat /etc/bcast-vm-cmd)"
        echo "BCAST-VM-START"
        sh /etc/bcast-vm-cmd </dev/null
        status=$?
    fi
    cd /
fi
echo
echo "BCAST-VM-EXIT $status"
dmesg | grep -E 'BUG|WARNING|Oops|KASAN|panic|Call Trace' |
    grep -vi "command line" | sed 's/^/BCAST-VM-DMESG: /'
echo "BCAST-VM: powering off"
sync
sleep 1
poweroff -f
echo o > /proc/sysrq-trigger
sleep 10
EOF
chmod 755 "$ROOT/init"

INITRD=$WORK/initrd.cpio
(cd "$ROOT" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) > "$INITRD" ||
    give_up "cpio failed"

# ------------------------------------------------------------------ boot
LOG=$WORK/console.log
echo "$PROG: booting $VMLINUZ (initrd $(( $(stat -c %s "$INITRD") / 1024 )) KiB, timeout ${TIMEOUT}s)"
start=$(date +%s)
# Software emulation only (-accel tcg): KVM does not work here.  A guest
# kernel that crashes while it boots, before our init has run (nothing of
# bcast is loaded then), is an emulation fault: boot again, at most twice,
# and say so.  Any crash once init runs fails the run.
BOOTS=3
for boot in $(seq 1 $BOOTS); do
    timeout -k 10 "$TIMEOUT" qemu-system-x86_64 \
        -accel tcg,thread=multi -machine pc -cpu max -m 1024 -smp 2 \
        -display none -monitor none -serial stdio -nic none -no-reboot \
        -kernel "$VMLINUZ" -initrd "$INITRD" \
        -append "console=ttyS0 panic=-1 quiet loglevel=5 printk.time=1" \
        </dev/null 2>&1 | tr -d '\r' | tee "$LOG"
    rcs=("${PIPESTATUS[@]}")
    qrc=${rcs[0]}
    if grep -aq 'BCAST-VM-INIT' "$LOG" ||
       ! grep -aqE '\] (Kernel panic|Oops|BUG:)' "$LOG" || [ "$boot" = $BOOTS ]; then
        break
    fi
    echo "$PROG: the guest kernel crashed while booting, before init ran" \
         "(nothing of bcast loaded): $(grep -aE '\] (Kernel panic|Oops|BUG:)' "$LOG" |
         head -n 1 | sed 's/^.*\] //'); booting again ($((boot + 1)) of $BOOTS)"
done
secs=$(( $(date +%s) - start ))

# --------------------------------------------------------------- verdict
reason=
status=$(grep -aE "^$MARKER -?[0-9]+\$" "$LOG" | tail -n 1 | awk '{print $2}')
kbad=$(grep -aE "(\[ *[0-9]+\.[0-9]+\] |^BCAST-VM-DMESG: ).*($KERN_BAD)" "$LOG" | head -n 1)
if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
    reason="timed out after ${TIMEOUT}s"
elif grep -aqE '\] Kernel panic' "$LOG"; then
    reason="kernel panic: $(grep -aE '\] Kernel panic' "$LOG" | head -n 1 | sed 's/^.*\] //')"
elif [ -n "$kbad" ]; then
    reason="kernel problem on console: $(echo "$kbad" | sed 's/^BCAST-VM-DMESG: //')"
elif [ -z "$status" ]; then
    reason="no '$MARKER' marker on the console (qemu exit status $qrc)"
elif grep -aqE '^BCAST-VM: insmod .* failed' "$LOG"; then
    reason="$(grep -aE '^BCAST-VM: insmod .* failed' "$LOG" | tail -n 1 | sed 's/^BCAST-VM: //')"
elif [ "$status" -ne 0 ]; then
    reason="guest command exited with status $status"
fi

# The command's results (between start and exit markers), if it counted
# any; the run's verdict is one more.
awk -v m="$MARKER" '/^BCAST-VM-START$/ {on=1; next} $1 == m {on=0} on' "$LOG" >"$WORK/out"
if grep -qaE '^(not )?ok |[0-9]+ passed, [0-9]+ failed' "$WORK/out"; then
    tap_count_log "$WORK/out" 0
    TAP_PASSED=$LOG_PASSED
    TAP_FAILED=$LOG_FAILED
fi

echo
if [ -n "$reason" ]; then
    echo "$PROG: FAIL ($KREL, ${secs}s): $reason"
    tap_not_ok "vm($KERNEL) $KREL: $reason"
    rc=1
else
    echo "$PROG: PASS ($KREL, ${secs}s)"
    tap_ok "vm($KERNEL) $KREL: the command exited 0; no kernel BUG, WARNING, Oops, KASAN, panic or Call Trace"
    rc=0
fi
tap_summary "vm($KERNEL)"
exit $rc
