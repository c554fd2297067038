#!/usr/bin/env bash
# The comparison table of `make bench-compare`: gmpos's and Go's `bench=`
# lines (shared/BENCH.md's format) -> one Markdown row per (workload,
# procs): gmpos, Go, ratio gmpos/Go, the target, met/missed.
#   scripts/bench-table.sh GMPOS_LINES GO_LINES
set -euo pipefail
awk '
function field(line, key,   n, i, a, kv) {
    n = split(line, a, " ")
    for (i = 1; i <= n; i++) { split(a[i], kv, "="); if (kv[1] == key) return substr(a[i], length(key) + 2) }
    return ""
}
function rowkey(line,   k, s) {
    k = field(line, "bench") " " field(line, "procs")
    s = field(line, "slice_us")
    if (k ~ /^preempt_latency/ && s != "" && s != "1000") k = k " slice_us=" s
    return k
}
FNR == 1 { side++ }
/^bench=/ {
    k = rowkey($0)
    if (!(k in seen)) { seen[k] = 1; order[++n] = k }
    line[side, k] = $0
}
END {
    # The targets (issue 18): ratio bounds, or absolute bounds (lat: median
    # ns; mem: total bytes per parked goroutine).
    t["spawn"] = "r0.5"; t["spawn_cold"] = "r0.5"; t["yield"] = "r0.5"; t["pingpong"] = "r0.5"
    t["chan_buffered"] = "r1.0"; t["mutex"] = "r1.0"; t["fanout"] = "r1.0"; t["sieve"] = "r0.7"
    t["preempt_latency"] = "a1000000"; t["sleep_accuracy"] = "a10000"; t["park_memory"] = "m5120"
    print "| workload | procs | gmpos | Go | ratio | target | result |"
    print "|---|---|---|---|---|---|---|"
    for (i = 1; i <= n; i++) {
        k = order[i]; split(k, kk, " "); w = kk[1]; p = kk[2]
        g = line[1, k]; o = line[2, k]
        label = w; if (k ~ /slice_us=/) { label = w " (" kk[3] ")"; tgt = "" } else tgt = t[w]
        if (w == "park_memory") {
            gv = field(g, "total_B_per_g"); ov = field(o, "total_B_per_g"); unit = " B"
        } else {
            gv = field(g, "ns_per_op"); ov = field(o, "ns_per_op"); unit = ""
        }
        ratio = (gv != "" && ov != "" && ov + 0 > 0) ? sprintf("%.2f", gv / ov) : "-"
        res = "-"; ts = "-"
        if (tgt ~ /^r/) {
            ts = "<= " substr(tgt, 2)
            if (ratio != "-") res = (ratio + 0 <= substr(tgt, 2) + 0) ? "met" : "missed"
        } else if (tgt ~ /^a/) {
            ts = "median <= " substr(tgt, 2) / 1000 " us"
            if (gv != "") res = (gv + 0 <= substr(tgt, 2) + 0) ? "met" : "missed"
        } else if (tgt ~ /^m/) {
            ts = "<= " substr(tgt, 2) " B/G"
            if (gv != "") res = (gv + 0 <= substr(tgt, 2) + 0) ? "met" : "missed"
        }
        printf "| %s | %s | %s%s | %s%s | %s | %s | %s |\n", label, p, (gv == "" ? "-" : gv), (gv == "" ? "" : unit), (ov == "" ? "-" : ov), (ov == "" ? "" : unit), ratio, ts, res
        if (w == "fanout" && p == 2) {
            s1 = field(g, "speedup_vs_p1"); s2 = field(o, "speedup_vs_p1")
            if (s1 != "" || s2 != "") printf "| fanout speedup p2/p1 | 2 | %s | %s | - | information | - |\n", (s1 == "" ? "-" : s1), (s2 == "" ? "-" : s2)
        }
    }
}' "$1" "$2"
