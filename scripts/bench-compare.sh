#!/usr/bin/env bash
# `make bench-compare`: gmpos's suite against the same workloads in Go
# (bench/go/), both in the same QEMU binary with the same -smp and the same
# icount/accel setting, and one table: workload, procs, gmpos, Go, ratio,
# target, met/missed. Not part of `make test`.
#
# The Go side: Debian's golang-go builds bench/go statically; a Linux guest
# is made from Debian packages fetched with `apt-get download` and unpacked
# (never installed): the cloud kernel (the meta package's Depends names the
# versioned one) and busybox-static; the initramfs holds busybox, the Go
# binary and an init script that runs it and powers off.
#
#   ICOUNT=1 (default) | 0     BENCH=name,...    SMP=2
#   GO_ONLY=1: stop after the Go guest; GMPOS_LINES=FILE: take gmpos's lines
#   from FILE (a `make bench` output) instead of running the suite again;
#   GO_LINES=FILE: take Go's lines from FILE (an earlier run's go.txt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
work=target/bench-compare
mkdir -p "$work"
SMP=${SMP:-2}
icount=${ICOUNT:-1}
case "$icount" in 0|no|false|off) icount=0 ;; *) icount=1 ;; esac

# --- tools ------------------------------------------------------------------
need=""
command -v go >/dev/null || need="$need golang-go"
command -v cpio >/dev/null || need="$need cpio"
if [ -n "$need" ]; then
    echo "==> installing$need" >&2
    apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >&2
fi

if [ -n "${GO_LINES:-}" ]; then
    cp "$GO_LINES" "$work/go.txt.new" && mv "$work/go.txt.new" "$work/go.txt"
else
# --- the Go program -----------------------------------------------------------
echo "==> building bench/go ($(go version | awk '{print $3}'), static)" >&2
(cd bench/go && CGO_ENABLED=0 go build -trimpath -o "$root/$work/gobench" .)

# --- the guest: Debian's cloud kernel and busybox, unpacked -------------------
guest=$work/guest
if [ ! -f "$guest/vmlinuz" ] || [ ! -x "$guest/busybox" ]; then
    mkdir -p "$guest/debs"
    kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
    if [ -z "$kpkg" ]; then
        apt-get update -qq >&2 || true
        kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
    fi
    echo "==> fetching $kpkg and busybox-static (apt-get download, unpacked only)" >&2
    (cd "$guest/debs" && apt-get download -q "$kpkg" busybox-static >&2)
    rm -rf "$guest/x" && mkdir -p "$guest/x"
    for d in "$guest"/debs/*.deb; do dpkg-deb -x "$d" "$guest/x"; done
    cp "$(ls "$guest"/x/boot/vmlinuz-* | head -1)" "$guest/vmlinuz"
    cp "$guest/x/bin/busybox" "$guest/busybox"
    basename "$(ls "$guest"/debs/linux-image-*.deb)" .deb > "$guest/kernel-version"
fi

# --- the initramfs -----------------------------------------------------------
rd=$work/initramfs
rm -rf "$rd" && mkdir -p "$rd"/{bin,proc,sys,dev,tmp}
cp "$guest/busybox" "$rd/bin/busybox"
cp "$work/gobench" "$rd/bench"
only=${BENCH:-}
cat > "$rd/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo "gobench: nproc=\$(nproc) \$(uname -r)"
/bench ${only:+-only $only}
echo "gobench: done"
poweroff -f
INIT
chmod +x "$rd/init"
(cd "$rd" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

# --- run Go in the guest -------------------------------------------------------
qemu=${GMPOS_QEMU:-qemu-system-x86_64}
accel=(-accel tcg)
if [ "$icount" = 1 ]; then
    accel+=(-icount shift=0,sleep=off -rtc base=2026-01-01T00:00:00,clock=vm)
fi
echo "==> Go in a Linux guest: $($qemu --version | head -1), -smp $SMP, icount=$icount" >&2
t0=$(date +%s)
timeout 7200 "$qemu" -machine q35 -m 1G -smp "$SMP" "${accel[@]}" \
    -display none -no-reboot -serial stdio -monitor none \
    -kernel "$guest/vmlinuz" -initrd "$work/initramfs.gz" \
    -append "console=ttyS0 quiet panic=-1 tsc=reliable" \
    | tr -d '\r' | tee "$work/go.log" | grep --line-buffered -E '^(bench=|gobench:)' >&2 || true
grep '^bench=' "$work/go.log" > "$work/go.txt" || true
echo "==> Go: $(wc -l < "$work/go.txt") lines in $(( $(date +%s) - t0 )) s" >&2
if [ ! -s "$work/go.txt" ]; then
    echo "bench-compare: the Go guest printed no bench lines (log: $work/go.log)" >&2
    exit 1
fi

fi
[ "${GO_ONLY:-0}" = 1 ] && exit 0

# --- run gmpos -------------------------------------------------------------------
if [ -n "${GMPOS_LINES:-}" ]; then
    cp "$GMPOS_LINES" "$work/gmpos.txt"
else
    echo "==> gmpos suite (scripts/bench.sh)" >&2
    BENCH=$only ICOUNT=$icount scripts/bench.sh -o "$work/gmpos.txt" > /dev/null
fi

# --- the table ---------------------------------------------------------------
scripts/bench-table.sh "$work/gmpos.txt" "$work/go.txt" | tee "$work/table.md"
