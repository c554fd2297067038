#!/usr/bin/env bash
# Installs what gmpos needs on the host, non-interactively, and does nothing
# when it is already there: QEMU (>= 10 preferred; on Debian bookworm it comes
# from bookworm-backports) and OVMF (for UEFI boots). The Rust toolchain is
# pinned in rust-toolchain.toml and fetched by rustup on first use.
set -euo pipefail

have_qemu() { command -v qemu-system-x86_64 >/dev/null 2>&1; }
qemu_major() { qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n1; }
have_ovmf() { [ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ -e /usr/share/OVMF/OVMF_CODE.fd ]; }

if have_qemu && [ "$(qemu_major)" -ge 10 ] && have_ovmf; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install-deps: need root (or passwordless sudo) to install qemu-system-x86 (>= 10) and ovmf." >&2
    echo "install-deps: install them by hand, e.g. apt-get install -t bookworm-backports qemu-system-x86 ovmf" >&2
    if have_qemu; then echo "install-deps: continuing with QEMU $(qemu_major)" >&2; exit 0; fi
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: no apt-get here: install qemu-system-x86_64 (>= 10 preferred) and OVMF by hand." >&2
    have_qemu && exit 0
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
APT="$SUDO apt-get -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
target=()
if [ "$codename" = "bookworm" ]; then
    if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        echo "install-deps: adding the bookworm-backports suite (QEMU 10 lives there)"
        echo "deb http://deb.debian.org/debian bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/gmpos-backports.list >/dev/null
    fi
    target=(-t bookworm-backports)
fi
echo "install-deps: apt-get update"
$APT update -qq
echo "install-deps: installing qemu-system-x86 ${target[*]:-} and ovmf"
$APT install -qq --no-install-recommends "${target[@]}" qemu-system-x86 ovmf
qemu-system-x86_64 --version | head -n1
