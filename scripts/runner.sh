#!/usr/bin/env bash
# Cargo's runner for x86_64-unknown-none (see .cargo/config.toml) and the
# engine of `make run`: builds the host-side runner `gmpos-boot` (always with
# the same flags, so it is never rebuilt needlessly) and execs it:
#   scripts/runner.sh [gmpos-boot options] KERNEL_ELF [libtest args | kernel args]
# See `scripts/runner.sh --help` for options, environment and exit codes.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/target/host/x86_64-unknown-linux-gnu/release/gmpos-boot"

if [ ! -x "$bin" ]; then
    echo "gmpos: building the runner (first time: ~4 min, bootloader stages)" >&2
fi
# The nested build must not inherit flags meant for the kernel build (they
# would rebuild the runner and its bootloader stages).
(
    cd "$root"
    unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET \
        CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR RUSTC_WORKSPACE_WRAPPER
    "${CARGO:-cargo}" build -q -p gmpos-boot --release --target x86_64-unknown-linux-gnu --target-dir target/host
) || {
    echo "gmpos: building the runner (gmpos-boot) failed" >&2
    exit 1
}

export GMPOS_ROOT="$root"
exec "$bin" "$@"
