# gdb helpers for gmpos goroutines (like Go's runtime-gdb.py).
#
#   (gdb) source scripts/gmpos-gdb.py
#   (gdb) info goroutines            every G: id, status, wait reason, saved pc
#   (gdb) goroutine 7 bt             run `bt` on goroutine 7's saved stack
#   (gdb) goroutine 7 frame          any gdb command, on that stack
#
# A goroutine that is not running has its context in `g.sched` (a Gobuf:
# sp, pc, bp, saved by `mcall`); `goroutine N cmd` loads those into
# rsp/rip/rbp, runs `cmd`, and puts the CPU's registers back, as Go's
# script does. The list is the scheduler's list of all Gs
# (`gmpos::sched::schedt::SCHED.allgs`, linked through `allnext`).

import gdb

# Go's names for gmpos's Status (kernel/src/sched/g.rs).
STATUS = ["idle", "runnable", "running", "waiting", "dead"]


def scalar(v):
    """The number inside an atomic (AtomicU64 { v: UnsafeCell { value } })
    or a plain integer/pointer, whatever the core version nests it in."""
    while v.type.strip_typedefs().code == gdb.TYPE_CODE_STRUCT:
        fields = v.type.strip_typedefs().fields()
        if not fields:
            break
        v = v[fields[0].name]
    return int(v)


def wait_reason(g):
    """The wait reason's name, from the enum's own debug info."""
    n = scalar(g["wait_reason"])
    try:
        t = gdb.lookup_type("gmpos::sched::g::WaitReason")
        for f in t.fields():
            if f.enumval == n:
                return f.name
    except (gdb.error, AttributeError):
        pass
    return str(n)


def allgs():
    sched = gdb.parse_and_eval("gmpos::sched::schedt::SCHED")
    gtype = gdb.lookup_type("gmpos::sched::g::G").pointer()
    p = scalar(sched["allgs"])
    while p:
        g = gdb.Value(p).cast(gtype).dereference()
        yield g
        p = scalar(g["allnext"])


def find(goid):
    for g in allgs():
        if scalar(g["goid"]) == goid:
            return g
    raise gdb.GdbError("no goroutine %d" % goid)


class InfoGoroutines(gdb.Command):
    """List gmpos goroutines: id, status (wait reason), system or user, saved pc."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        for g in allgs():
            st = scalar(g["status"])
            name = STATUS[st] if st < len(STATUS) else str(st)
            if name == "dead":
                continue
            if name == "waiting":
                name = "waiting (%s)" % wait_reason(g)
            kind = "system" if scalar(g["system"]) else "user"
            pc = scalar(g["sched"]["value"]["pc"])
            block = gdb.block_for_pc(pc)
            fn = block.function.name if block and block.function else "?"
            print("%5d %-32s %-6s pc=%#x %s" % (scalar(g["goid"]), name, kind, pc, fn))


class Goroutine(gdb.Command):
    """goroutine N CMD: run gdb command CMD on goroutine N's saved stack."""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        goid, _, cmd = arg.partition(" ")
        g = find(int(goid))
        if STATUS[scalar(g["status"])] == "running":
            raise gdb.GdbError("goroutine %s is running: its stack is the CPU's" % goid)
        buf = g["sched"]["value"]
        saved = {r: int(gdb.parse_and_eval("$" + r)) for r in ("rsp", "rip", "rbp")}
        try:
            gdb.execute("set $rsp = %d" % scalar(buf["sp"]))
            gdb.execute("set $rip = %d" % scalar(buf["pc"]))
            gdb.execute("set $rbp = %d" % scalar(buf["bp"]))
            gdb.execute(cmd or "bt", from_tty)
        finally:
            for r, v in saved.items():
                gdb.execute("set $%s = %d" % (r, v))


InfoGoroutines()
Goroutine()
print("gmpos: `info goroutines`, `goroutine N bt` loaded")
