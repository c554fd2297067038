#!/usr/bin/env bash
# `make bench`: the suite of shared/BENCH.md (qemu-tests/benches/suite.rs,
# the workloads in kernel/src/bench/), one boot per workload at -smp 2,
# procs=1 then procs=2 inside each boot. `spawn_cold` and `park_memory` boot
# once per repetition (3 and 5 per procs): a fresh kernel has no free G and
# no cached stack; their `reps=1` lines are folded into one line per procs.
#
#   scripts/bench.sh [-o FILE]     BENCH=name[,name...]  ICOUNT=1|0
#
# Prints progress on stderr (`==> ...`) and the `bench=` lines on stdout
# (and into FILE with -o). ICOUNT=1 (default): -icount shift=0, one virtual
# ns = one guest instruction, deterministic; ICOUNT=0: plain TCG (or KVM).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out=""
if [ "${1:-}" = "-o" ]; then out="$2"; shift 2; fi

ALL="spawn spawn_cold yield switch pingpong chan_buffered mutex fanout sieve preempt_latency park_memory sleep_accuracy"
sel="${BENCH:-$ALL}"
sel="${sel//,/ }"
case "${ICOUNT:-1}" in
    0|no|false|off) label="smp=2" ;;
    *) label="smp=2 icount" ;;
esac
for w in $sel; do
    case " $ALL " in *" $w "*) ;; *) echo "bench: no workload \`$w' (workloads: $ALL)" >&2; exit 2 ;; esac
done

cargo="${CARGO:-cargo}"
logdir=target/bench
mkdir -p "$logdir"
# Built once, and the ELF copied: every boot of this run is the same kernel
# even if the tree is rebuilt meanwhile.
exe=$("$cargo" bench --bench suite --no-run 2>&1 | tee "$logdir/build.log" | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
if [ -z "$exe" ] || [ ! -f "$exe" ]; then
    echo "bench: building the suite failed (log: $logdir/build.log)" >&2
    tail -20 "$logdir/build.log" >&2
    exit 1
fi
elf="$logdir/suite-$$.elf"
cp "$exe" "$elf"
trap 'rm -f "$elf"' EXIT
[ -n "$out" ] && : > "$out"

emit() {
    echo "$1"
    [ -n "$out" ] && echo "$1" >> "$out"
    return 0
}

# One boot of case $1; its `bench=` lines on stdout, the log in target/bench.
boot() {
    local case="$1" log="$logdir/$1.log"
    if ! scripts/runner.sh "$elf" --nocapture --exact "$case [$label]" > "$log" 2>&1; then
        echo "bench: case $case failed (log: $log):" >&2
        tail -30 "$log" >&2
        return 1
    fi
    sed -n 's/^\[[^]]*\] \(bench=.*\)$/\1/p' "$log"
}

# Folds `reps=1` lines of one (workload, procs) into one line: ns_per_op the
# median, min_ns_per_op the minimum, numeric extras their medians.
fold() {
    awk '
    function med(s, n,   a, i, j, t) {
        n = split(s, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    {
        nk = 0
        for (i = 1; i <= NF; i++) {
            split($i, kv, "=")
            k = kv[1]; v = substr($i, length(k) + 2)
            if (!(k in seen)) { seen[k] = 1; order[++nkeys] = k }
            vals[k] = vals[k] " " v
            last[k] = v
        }
        if (min == "" || $0 ~ /./ && last["ns_per_op"] + 0 < min + 0) min = last["ns_per_op"]
        reps++
    }
    END {
        line = ""
        for (i = 1; i <= nkeys; i++) {
            k = order[i]
            if (k == "reps") v = reps
            else if (k == "min_ns_per_op") v = sprintf("%.1f", min)
            else if (k == "ns_per_op") v = sprintf("%.1f", med(vals[k]))
            else if (last[k] ~ /^[0-9.]+$/ && k != "n" && k != "procs") v = med(vals[k])
            else v = last[k]
            line = line (i > 1 ? " " : "") k "=" v
        }
        print line
    }'
}

t_all=$(date +%s)
for w in $sel; do
    t0=$(date +%s)
    case "$w" in
        spawn_cold|park_memory)
            [ "$w" = spawn_cold ] && reps=3 || reps=5
            for p in 1 2; do
                lines=""
                for r in $(seq 1 $reps); do
                    echo "==> bench $w procs=$p: fresh boot $r/$reps [$label]" >&2
                    l=$(boot "${w}_p$p")
                    lines="$lines$l"$'\n'
                done
                emit "$(printf '%s' "$lines" | grep . | fold)"
            done
            ;;
        *)
            c="$w"
            [ "$w" = yield ] && c=yield_
            echo "==> bench $w: one boot [$label]" >&2
            while IFS= read -r l; do emit "$l"; done < <(boot "$c")
            ;;
    esac
    echo "==> bench $w: $(( $(date +%s) - t0 )) s" >&2
done
echo "==> bench: done in $(( $(date +%s) - t_all )) s" >&2
