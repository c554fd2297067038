//! The execution tracer (Go: runtime/trace) and the CPU profiler's
//! transport: per-CPU event buffers, written without locks from any context,
//! streamed to the host through the debug console.
//!
//! - [`event`]: the 32-byte records and their kinds (pure, host-tested)
//! - [`buf`]: a CPU's ring, one writer, one drainer, a dropped counter (pure)
//! - [`stream`]: draining to the debug console
//!
//! The scheduler calls the `go_*`/`proc_*` hooks at its transitions; each is
//! `#[inline(always)]` and, with tracing off, one load and one predictable
//! branch (`if on()`), the recording itself out of line and `#[cold]`.
//! Recording runs with interrupts off, so a CPU's pushes never interleave
//! (an interrupt handler's event goes before or after, whole). Start and
//! stop (`sched/tracing.rs` has the API) are in `start`/`stop` here: the
//! header and the snapshot of existing goroutines go out first; each CPU
//! begins recording at its first `GoStart` after that (nothing of its own
//! runs at that instant, so every slice begins whole); at stop a cross-call
//! makes sure no CPU is still recording, then the stopper writes the
//! synthetic ends of whatever was running, drains everything, and writes
//! the drop counts and the end.
pub mod buf;
pub mod event;
#[cfg(target_os = "none")]
pub mod stream;

#[cfg(target_os = "none")]
pub use self::kernel::*;

#[cfg(target_os = "none")]
mod kernel {
    use alloc::boxed::Box;
    use core::ptr;
    use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};

    use super::buf::Ring;
    use super::event::{self, Kind, Record};
    use super::stream;
    use crate::arch::{MAX_CPUS, irq, percpu, rdtsc};

    /// Records per CPU buffer (256 KiB): a few ms of a busy scheduler between
    /// two drains, with room to spare.
    pub const RING_RECORDS: usize = 8192;

    /// Tracing is on (the scheduler's hooks record).
    static ON: AtomicBool = AtomicBool::new(false);
    /// Profiling is on (the timer tick samples), in Hz (0: off).
    static PROF_HZ: AtomicU32 = AtomicU32::new(0);
    /// Either is on: the scheduler loop drains buffers.
    static ACTIVE: AtomicBool = AtomicBool::new(false);
    /// Each CPU's buffer, allocated at the first start, never freed.
    static RINGS: [AtomicPtr<Ring>; MAX_CPUS] =
        [const { AtomicPtr::new(ptr::null_mut()) }; MAX_CPUS];
    /// One start or stop at a time. A flag, not a lock: stop waits for a
    /// cross-call, which no CPU does holding a lock; a second caller gets
    /// `false` rather than waiting.
    static CONTROL: AtomicBool = AtomicBool::new(false);

    struct Control;

    impl Control {
        fn take() -> Option<Control> {
            CONTROL
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
                .then_some(Control)
        }
    }

    impl Drop for Control {
        fn drop(&mut self) {
            CONTROL.store(false, Ordering::Release);
        }
    }

    /// Is tracing on? The hooks' one branch.
    #[inline(always)]
    pub fn on() -> bool {
        ON.load(Ordering::Relaxed)
    }

    /// The profiling rate in Hz, 0 when off.
    #[inline(always)]
    pub fn prof_hz() -> u32 {
        PROF_HZ.load(Ordering::Relaxed)
    }

    fn ring(cpu: usize) -> Option<&'static Ring> {
        let p = RINGS[cpu].load(Ordering::Acquire);
        // SAFETY: rings are leaked boxes, never freed.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    fn alloc_rings(ncpu: usize) {
        for r in RINGS.iter().take(ncpu) {
            if r.load(Ordering::Acquire).is_null() {
                r.store(
                    Box::leak(Box::new(Ring::new(RING_RECORDS))),
                    Ordering::Release,
                );
            }
        }
    }

    /// Records `recs` (one event) in this CPU's buffer, with the TSC now,
    /// if this CPU records (`need_on`: trace events; samples need only the
    /// buffer). Interrupts off: pushes on one CPU never interleave.
    #[cold]
    #[inline(never)]
    fn record(recs: &mut [Record], need_on: bool, f: impl FnOnce(&Ring)) {
        irq::without(|| {
            let cpu = percpu::cpu_index();
            let Some(r) = ring(cpu) else { return };
            if need_on && !r.on.load(Ordering::Relaxed) {
                return;
            }
            let tsc = rdtsc();
            for x in recs.iter_mut() {
                x.tsc = tsc;
                x.cpu = cpu as u8;
            }
            f(r);
            r.push(recs);
        })
    }

    #[inline(always)]
    fn emit(kind: Kind, small: u16, aux: u32, a: u64, b: u64) {
        if on() {
            record(&mut [Record::new(kind, 0, small, aux, a, b)], true, |_| {});
        }
    }

    /// Go: `traceGoCreate`: goroutine `goid`, made by `parent`, named `name`.
    #[inline(always)]
    pub fn go_create(goid: u64, parent: u64, name: &str, system: bool) {
        if on() {
            go_create_slow(goid, parent, name, system)
        }
    }

    #[cold]
    fn go_create_slow(goid: u64, parent: u64, name: &str, system: bool) {
        let mut recs = [Record::default(); 1 + event::NAME_MAX / event::NAME_CHUNK];
        recs[0] = Record::new(Kind::GoCreate, 0, (system as u16) << 1, 0, goid, parent);
        let n = 1 + event::name_records(goid, name, 0, &mut recs[1..]);
        record(&mut recs[..n], true, |_| {});
    }

    /// Go: `traceGoStart`: goroutine `goid` starts on P `p`. A CPU's first
    /// one after trace start turns its recording on (it runs nothing now).
    #[inline(always)]
    pub fn go_start(goid: u64, p: usize) {
        if on() {
            go_start_slow(goid, p)
        }
    }

    #[cold]
    fn go_start_slow(goid: u64, p: usize) {
        irq::without(|| {
            let Some(r) = ring(percpu::cpu_index()) else {
                return;
            };
            if !r.on.load(Ordering::Relaxed) {
                r.on.store(true, Ordering::Relaxed);
                proc_start(p, 0);
            }
        });
        record(
            &mut [Record::new(Kind::GoStart, 0, p as u16, 0, goid, 0)],
            true,
            |r| r.running.store(goid, Ordering::Relaxed),
        );
    }

    /// Goroutine `goid` stops running here with `kind` (a yield, a
    /// preemption, a park, its end).
    #[inline(always)]
    fn go_stop(kind: Kind, small: u16, goid: u64) {
        if on() {
            record(&mut [Record::new(kind, 0, small, 0, goid, 0)], true, |r| {
                r.running.store(0, Ordering::Relaxed)
            });
        }
    }

    /// Go: `traceGoSched`: `goid` yields (`to_ring`: `goyield`).
    #[inline(always)]
    pub fn go_sched(goid: u64, to_ring: bool) {
        go_stop(Kind::GoSched, to_ring as u16, goid)
    }

    /// Go: `traceGoPreempt`: `goid` was preempted (`coop`: at a safe point).
    #[inline(always)]
    pub fn go_preempt(goid: u64, coop: bool) {
        go_stop(Kind::GoPreempt, coop as u16, goid)
    }

    /// Go: `traceGoPark`: `goid` parks for `reason` (a `WaitReason` as u8).
    #[inline(always)]
    pub fn go_block(goid: u64, reason: u8) {
        go_stop(Kind::GoBlock, reason as u16, goid)
    }

    /// Go: `traceGoEnd`.
    #[inline(always)]
    pub fn go_end(goid: u64) {
        go_stop(Kind::GoEnd, 0, goid)
    }

    /// Where a readied goroutine went (`GoUnblock`'s `small`).
    #[derive(Clone, Copy)]
    pub enum ReadyTo {
        LocalP = 0,
        Global = 1,
        Woken = 2,
    }

    /// Go: `traceGoUnpark`: `readier` (0: an interrupt handler or the
    /// scheduler) readies `goid`.
    #[inline(always)]
    pub fn go_unblock(goid: u64, readier: u64, to: ReadyTo) {
        emit(Kind::GoUnblock, to as u16, 0, goid, readier)
    }

    /// This P stole `count` goroutines from P `victim` and runs `goid`.
    #[inline(always)]
    pub fn steal(victim: usize, count: u64, goid: u64) {
        emit(Kind::Steal, victim as u16, 0, goid, count)
    }

    /// Go: `traceProcStop`: P `p` goes idle.
    #[inline(always)]
    pub fn proc_stop(p: usize) {
        if on() {
            record(
                &mut [Record::new(Kind::ProcStop, 0, p as u16, 0, 0, 0)],
                true,
                |r| r.proc_running.store(false, Ordering::Relaxed),
            );
        }
    }

    /// Go: `traceProcStart`: P `p` runs again (`how`: see `Kind::ProcStart`).
    #[inline(always)]
    pub fn proc_start(p: usize, how: u32) {
        if on() {
            record(
                &mut [Record::new(Kind::ProcStart, 0, p as u16, how, 0, 0)],
                true,
                |r| r.proc_running.store(true, Ordering::Relaxed),
            );
        }
    }

    /// A wake-up IPI to `cpu` (`stw`: for a stop-the-world).
    #[inline(always)]
    pub fn ipi(cpu: usize, stw: bool) {
        emit(Kind::Ipi, cpu as u16, stw as u32, 0, 0)
    }

    /// A timer of P `p` fired, readying `goid`.
    #[inline(always)]
    pub fn timer_fire(p: usize, goid: u64) {
        emit(Kind::TimerFire, p as u16, 0, goid, 0)
    }

    /// Go: `traceGomaxprocs`.
    #[inline(always)]
    pub fn gomaxprocs(new: usize, old: usize) {
        emit(Kind::Gomaxprocs, 0, 0, new as u64, old as u64)
    }

    /// A profile sample (from the timer interrupt): goroutine `goid` at
    /// `pc`, called through `frames` (return addresses, innermost first).
    pub fn sample(goid: u64, pc: u64, frames: &[u64]) {
        let frames = &frames[..frames.len().min(event::MAX_SAMPLE_FRAMES)];
        let mut recs = [Record::default(); 1 + event::MAX_SAMPLE_FRAMES / event::FRAMES_PER_RECORD];
        recs[0] = Record::new(Kind::Sample, 0, frames.len() as u16, 0, goid, pc);
        let n = 1 + event::frame_records(frames, 0, &mut recs[1..]);
        record(&mut recs[..n], false, |_| {});
    }

    /// The scheduler loop's drain (g0): this CPU's buffer once it holds
    /// `stream::FLUSH_AT` records, or all it holds when `all` (about to halt).
    #[inline(always)]
    pub fn flush_point(all: bool) {
        if ACTIVE.load(Ordering::Relaxed) {
            flush_slow(all)
        }
    }

    #[cold]
    fn flush_slow(all: bool) {
        if let Some(r) = ring(percpu::cpu_index()) {
            stream::try_drain(r, if all { 1 } else { stream::FLUSH_AT });
        }
    }

    fn header(what: u16, aux: u32) -> Record {
        let mut h = Record::new(
            Kind::Header,
            percpu::cpu_index(),
            what,
            aux,
            crate::clock::tsc_hz(),
            event::MAGIC,
        );
        h.tsc = rdtsc();
        h
    }

    /// A goroutine that exists when tracing starts (the snapshot's items).
    pub struct Existing<'a> {
        pub goid: u64,
        pub parent: u64,
        pub status: u8,
        pub system: bool,
        pub name: &'a str,
    }

    /// Calls its argument once per existing goroutine.
    pub type Snapshot<'a> = &'a mut dyn FnMut(&mut dyn FnMut(Existing));

    /// Starts tracing (false if it was on): the header, then `snapshot`'s
    /// goroutines, then the hooks record. The caller (on a goroutine,
    /// preemption off) is `cur` (goroutine, P) and starts recording at once.
    pub fn start(ncpu: usize, gomaxprocs: usize, snapshot: Snapshot, cur: (u64, usize)) -> bool {
        let Some(_c) = Control::take() else {
            return false;
        };
        if on() {
            return false;
        }
        alloc_rings(ncpu);
        for r in RINGS.iter().take(ncpu) {
            // SAFETY: just allocated, never freed.
            let r = unsafe { &*r.load(Ordering::Acquire) };
            r.on.store(false, Ordering::Relaxed);
            r.running.store(0, Ordering::Relaxed);
            r.proc_running.store(false, Ordering::Relaxed);
            r.dropped.store(0, Ordering::Relaxed);
        }
        let h = header(event::WHAT_TRACE, (ncpu | gomaxprocs << 16) as u32);
        stream::write_now(&mut |put| {
            put(&h);
            snapshot(&mut |g: Existing| {
                let mut recs = [Record::default(); 1 + event::NAME_MAX / event::NAME_CHUNK];
                recs[0] = Record::new(
                    Kind::GoCreate,
                    h.cpu as usize,
                    1 | (g.system as u16) << 1,
                    g.status as u32,
                    g.goid,
                    g.parent,
                );
                let n = 1 + event::name_records(g.goid, g.name, h.cpu as usize, &mut recs[1..]);
                for r in &mut recs[..n] {
                    r.tsc = h.tsc;
                    put(r);
                }
            });
        });
        ACTIVE.store(true, Ordering::SeqCst);
        ON.store(true, Ordering::SeqCst);
        go_start(cur.0, cur.1);
        true
    }

    /// Waits until no CPU is inside a recording (they all run with
    /// interrupts off, so a CPU that took the cross-call is out of one, and
    /// sees the flags cleared before it from then on).
    fn quiesce() {
        crate::arch::ipi::run_on_all(&|| {});
    }

    /// Stops tracing (false if it was off): closes what runs, drains every
    /// buffer, writes the drop counts and the end.
    pub fn stop() -> bool {
        let Some(_c) = Control::take() else {
            return false;
        };
        if !on() {
            return false;
        }
        ON.store(false, Ordering::SeqCst);
        quiesce();
        // Every CPU is done recording: the open slices are what the buffers'
        // trackers say. Their synthetic ends go in this CPU's buffer, each
        // naming the CPU it is for.
        let ncpu = crate::arch::smp::ncpu();
        let mut tail = alloc::vec::Vec::new();
        let tsc = rdtsc();
        for cpu in 0..ncpu {
            let Some(r) = ring(cpu) else { continue };
            let goid = r.running.swap(0, Ordering::Relaxed);
            if goid != 0 {
                let mut s = Record::new(Kind::GoStopSynth, cpu, 0, 0, goid, 0);
                s.tsc = tsc;
                tail.push(s);
            }
            if r.proc_running.swap(false, Ordering::Relaxed) {
                let mut s = Record::new(Kind::ProcStop, cpu, 0, 1, 0, 0);
                s.tsc = tsc;
                tail.push(s);
            }
            r.on.store(false, Ordering::Relaxed);
        }
        finish(event::WHAT_TRACE, tail);
        true
    }

    /// Drains everything, then writes `tail`, the drop counts and `what`'s end.
    fn finish(what: u16, mut tail: alloc::vec::Vec<Record>) {
        let tsc = rdtsc();
        for (cpu, r) in RINGS.iter().enumerate() {
            let p = r.load(Ordering::Acquire);
            if p.is_null() {
                continue;
            }
            // SAFETY: never freed.
            let n = unsafe { &*p }.dropped.swap(0, Ordering::Relaxed);
            let mut d = Record::new(Kind::Dropped, cpu, 0, what as u32, n, 0);
            d.tsc = tsc;
            tail.push(d);
        }
        let mut end = Record::new(Kind::End, percpu::cpu_index(), what, 0, 0, 0);
        end.tsc = tsc;
        tail.push(end);
        if !on() && prof_hz() == 0 {
            ACTIVE.store(false, Ordering::SeqCst);
        }
        stream::drain_all(&RINGS, &tail);
    }

    /// Starts the CPU profiler at `hz` samples per second per running CPU
    /// (false if it was on or `hz` is 0).
    pub fn prof_start(ncpu: usize, hz: u32) -> bool {
        let Some(_c) = Control::take() else {
            return false;
        };
        if prof_hz() != 0 || hz == 0 {
            return false;
        }
        alloc_rings(ncpu);
        let h = header(event::WHAT_PROF, hz);
        stream::write_now(&mut |put| put(&h));
        ACTIVE.store(true, Ordering::SeqCst);
        PROF_HZ.store(hz, Ordering::SeqCst);
        true
    }

    /// Stops the profiler: drains its samples and writes its end.
    pub fn prof_stop() -> bool {
        let Some(_c) = Control::take() else {
            return false;
        };
        if prof_hz() == 0 {
            return false;
        }
        PROF_HZ.store(0, Ordering::SeqCst);
        quiesce();
        finish(event::WHAT_PROF, alloc::vec::Vec::new());
        true
    }
}
