#!/usr/bin/env bash
# Installs what gmpos needs on the host, non-interactively, and does nothing
# (quietly, without touching the network) when it is already there:
#
#   1. the Rust toolchain pinned in rust-toolchain.toml, with its components
#      and targets, through rustup. rustup >= 1.28 no longer installs a
#      toolchain on first use when RUSTUP_AUTO_INSTALL=0 (as on this project's
#      machines and CI), so the file alone sets nothing up. The channel,
#      profile, components and targets are read from the file and passed
#      explicitly, so any rustup version works.
#   2. QEMU (>= 10 preferred; on Debian bookworm it comes from
#      bookworm-backports, added from the mirror the machine's own apt sources
#      use) and OVMF (for UEFI boots), with apt-get.
#
# Run by `make run`, `make test`, `make bench`, `make debug` (and `make deps`).
# Environment: GMPOS_SKIP_APT=1 skips step 2 (scripts/check-fresh.sh uses it).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "install-deps: $*" >&2; }

# --- 1. the pinned Rust toolchain ------------------------------------------

# Prints the value(s) of `key = "v"` or `key = ["a", "b"]` from the
# [toolchain] table of rust-toolchain.toml, one per line.
toml_values() {
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$root/rust-toolchain.toml" | head -n1 |
        tr -d '[]"' | tr ',' '\n' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//' | sed '/^$/d'
}

ensure_toolchain() {
    local file="$root/rust-toolchain.toml"
    [ -f "$file" ] || { say "no rust-toolchain.toml in $root"; exit 1; }
    local channel profile components targets
    channel=$(toml_values channel)
    profile=$(toml_values profile)
    components=$(toml_values components)
    targets=$(toml_values targets)
    if [ -z "$channel" ]; then
        say "rust-toolchain.toml names no channel"
        exit 1
    fi
    if ! command -v rustup >/dev/null 2>&1; then
        say "rustup is not installed (or not on PATH). gmpos needs rustup to fetch its pinned"
        say "toolchain ($channel, from rust-toolchain.toml). Install it with"
        say "    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain none"
        say "then open a new shell (or 'source \$HOME/.cargo/env') and run the command again."
        exit 1
    fi

    # Fast path, all local: is the toolchain there with every component and
    # target? (`rustup component list --installed` lists targets as
    # `rust-std-<target>`, components as `<name>-<host>` or `<name>`.)
    local missing=() installed=""
    if rustup toolchain list 2>/dev/null | grep -q "^$channel-"; then
        installed=$(rustup component list --installed --toolchain "$channel" 2>/dev/null || true)
        local c t
        for c in $components; do
            # llvm-tools-preview is listed as llvm-tools (renamed upstream).
            local name=${c%-preview}
            grep -Eq "^($c|$name)(-[a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+(-[a-z0-9_]+)?)?$" <<<"$installed" ||
                missing+=("component $c")
        done
        for t in $targets; do
            grep -qx "rust-std-$t" <<<"$installed" || missing+=("target $t")
        done
        [ ${#missing[@]} -eq 0 ] && return 0
        say "toolchain $channel lacks: ${missing[*]}"
    else
        say "the pinned toolchain $channel (rust-toolchain.toml) is not installed"
    fi

    local args=(toolchain install "$channel" --no-self-update)
    [ -n "$profile" ] && args+=(--profile "$profile")
    local c t
    for c in $components; do args+=(--component "$c"); done
    for t in $targets; do args+=(--target "$t"); done
    say "rustup ${args[*]}"
    local t0=$SECONDS
    if ! rustup "${args[@]}"; then
        say "installing the Rust toolchain $channel failed (network? disk space?)."
        say "Try by hand: rustup ${args[*]}"
        exit 1
    fi
    say "toolchain $channel installed in $((SECONDS - t0)) s"
}

ensure_toolchain

# --- 2. QEMU and OVMF ---------------------------------------------------------

[ "${GMPOS_SKIP_APT:-}" = 1 ] && exit 0

have_qemu() { command -v qemu-system-x86_64 >/dev/null 2>&1; }
qemu_major() { qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n1; }
have_ovmf() { [ -e /usr/share/OVMF/OVMF_CODE_4M.fd ] || [ -e /usr/share/OVMF/OVMF_CODE.fd ]; }

if have_qemu && [ "$(qemu_major)" -ge 10 ] && have_ovmf; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    say "need root (or passwordless sudo) to install qemu-system-x86 (>= 10) and ovmf."
    say "install them by hand, e.g. apt-get install -t bookworm-backports qemu-system-x86 ovmf"
    if have_qemu; then say "continuing with QEMU $(qemu_major)"; exit 0; fi
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get here: install QEMU (qemu-system-x86_64, >= 10 preferred; 8.x works without"
    say "x2APIC under TCG) and OVMF/edk2 x86_64 firmware (for UEFI=1) with your package manager."
    have_qemu && exit 0
    exit 1
fi

# The first mirror URI that the machine's enabled apt sources use for the
# Debian suite $1 (not -security/-updates), from one-line `sources.list` files
# and deb822 `*.sources` files.
debian_mirror() {
    local suite=$1 f
    # One-line format: deb [options] URI SUITE COMPONENTS...
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
            awk -v s="$suite" '$1 == "deb" && $3 == s { print $2; exit }'
    done | head -n1 | grep . && return 0
    # deb822: stanzas separated by blank lines, with Types/URIs/Suites/Enabled.
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v s="$suite" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " s " ") && uris != "") {
                    split(uris, u, " "); print u[1]; found = 1; exit
                }
                types = ""; uris = ""; suites = ""; enabled = ""
            }
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { flush(); next }
            {
                key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
                if (key == "types") types = $0
                else if (key == "uris") uris = $0
                else if (key == "suites") suites = $0
                else if (key == "enabled") enabled = tolower($0)
            }
            END { if (!found) flush() }
        ' "$f"
    done | head -n1 | grep . && return 0
    return 1
}

backports_enabled() {
    grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null
}

export DEBIAN_FRONTEND=noninteractive
APT="$SUDO apt-get -y -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
target=()
if [ "$codename" = "bookworm" ]; then
    if ! backports_enabled; then
        if ! mirror=$(debian_mirror bookworm); then
            say "cannot find the Debian mirror of this machine's apt sources (no enabled 'bookworm'"
            say "suite in /etc/apt/sources.list or /etc/apt/sources.list.d/*.{list,sources})."
            say "Add bookworm-backports by hand, e.g."
            say "    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list"
            exit 1
        fi
        say "adding the bookworm-backports suite from $mirror (QEMU 10 lives there)"
        echo "deb $mirror bookworm-backports main" | $SUDO tee /etc/apt/sources.list.d/gmpos-backports.list >/dev/null
    fi
    target=(-t bookworm-backports)
fi
say "apt-get update"
$APT update -qq
say "installing qemu-system-x86 ${target[*]:-} and ovmf"
$APT install -qq --no-install-recommends "${target[@]}" qemu-system-x86 ovmf
qemu-system-x86_64 --version | head -n1
