#!/usr/bin/env bash
# Proves that the set-up step installs the pinned toolchain by itself, without
# trusting this machine: runs scripts/install-deps.sh with an empty
# RUSTUP_HOME (in a temporary directory) and RUSTUP_AUTO_INSTALL=0, as on a
# fresh machine, so the toolchain of rust-toolchain.toml is really downloaded;
# then builds the kernel with that toolchain (own target dir) and a second
# install step must print nothing. Not part of `make test` (it downloads
# ~200 MB and takes a few minutes). QEMU/OVMF are not re-installed
# (GMPOS_SKIP_APT=1): the apt part runs on every `make` anyway.
#
#   scripts/check-fresh.sh [--keep]     (--keep: leave the temporary directory)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
keep=0
[ "${1:-}" = "--keep" ] && keep=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gmpos-fresh.XXXXXX")
cleanup() { if [ $keep = 0 ]; then rm -rf "$tmp"; else echo "check-fresh: kept $tmp"; fi; }
trap cleanup EXIT

if ! command -v rustup >/dev/null 2>&1; then
    echo "check-fresh: rustup is needed (the proxies on PATH read RUSTUP_HOME)" >&2
    exit 1
fi

export RUSTUP_HOME="$tmp/rustup"
export RUSTUP_AUTO_INSTALL=0
export GMPOS_SKIP_APT=1
mkdir -p "$RUSTUP_HOME"
echo "check-fresh: empty RUSTUP_HOME=$RUSTUP_HOME, RUSTUP_AUTO_INSTALL=0"
echo "check-fresh: toolchains before: $(rustup toolchain list 2>&1 | tr '\n' ' ')"

t0=$(date +%s)
"$root/scripts/install-deps.sh"
t1=$(date +%s)
echo "check-fresh: install step: $((t1 - t0)) s"
rustup toolchain list
rustup component list --installed --toolchain "$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$root/rust-toolchain.toml")"

echo "check-fresh: second install step (must print nothing):"
out=$("$root/scripts/install-deps.sh" 2>&1)
if [ -n "$out" ]; then
    echo "check-fresh: FAILED: the second run printed: $out" >&2
    exit 1
fi
echo "check-fresh: (nothing)"

echo "check-fresh: building the kernel with the fresh toolchain"
(cd "$root" && CARGO_TARGET_DIR="$tmp/target" cargo build -p gmpos --bin gmpos-kernel)
t2=$(date +%s)
ls -l "$tmp/target/x86_64-unknown-none/debug/gmpos-kernel"
echo "check-fresh: ok: install $((t1 - t0)) s, kernel build $((t2 - t1)) s"
