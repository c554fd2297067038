//! The trace stream's records (pure, host-tested): every event is one
//! 32-byte little-endian [`Record`]; a few carry more data in the records
//! right after them (a goroutine's name, a profile sample's frames).
//!
//! | bytes | field |
//! |---|---|
//! | 0..8   | `tsc`: the TSC when the event happened (Go: the event timestamp) |
//! | 8      | `kind`: a [`Kind`] |
//! | 9      | `cpu`: whose event (the CPU that wrote it, or the CPU a synthetic event is for) |
//! | 10..12 | `small`: a P, a wait reason, a count, a flag (per kind) |
//! | 12..16 | `aux`: a 32-bit argument (per kind) |
//! | 16..24 | `a`: usually the goroutine |
//! | 24..32 | `b`: a second goroutine, a count, an address |
//!
//! The host tool (`tools/trace`) has the reader; both sides name the kinds
//! by these numbers, which never change meaning (new kinds get new numbers).

/// Bytes per record.
pub const RECORD_BYTES: usize = 32;

/// `b` of a [`Kind::Header`]: "GMPTRC01" (the stream's magic and version).
pub const MAGIC: u64 = u64::from_le_bytes(*b"GMPTRC01");

/// Which recording a header or end belongs to (`small` of `Header`/`End`).
pub const WHAT_TRACE: u16 = 1;
pub const WHAT_PROF: u16 = 2;

/// Name bytes per [`Kind::GoName`] record (in `a` and `b`).
pub const NAME_CHUNK: usize = 16;
/// A goroutine's name is cut to this many bytes (its tail is kept: the
/// closure's innermost path, the informative part of a `type_name`).
pub const NAME_MAX: usize = 64;
/// Frames per [`Kind::Frames`] record.
pub const FRAMES_PER_RECORD: usize = 2;
/// Deepest stack a profile sample records.
pub const MAX_SAMPLE_FRAMES: usize = 32;

/// What happened. The Go names are those of `runtime/trace` (`traceEv*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Go: `traceEvBatch` + `traceEvFrequency`: a recording starts. `a`: TSC
    /// Hz, `b`: [`MAGIC`], `small`: [`WHAT_TRACE`]/[`WHAT_PROF`], `aux`:
    /// ncpu | gomaxprocs << 16 (profiles: the rate in Hz in `aux`'s high half).
    Header = 1,
    /// A recording ends: `small`: what, every record of it is before this.
    End = 2,
    /// Go: `traceEvGoCreate`: `a` new goroutine, `b` its creator (0: the
    /// runtime); `small` bit 0: existed at trace start, bit 1: a system
    /// goroutine; `aux`: its status then (at start) or 0.
    GoCreate = 3,
    /// Up to [`NAME_CHUNK`] bytes of goroutine `aux`'s name in `a`, `b`
    /// (`small`: how many); consecutive ones concatenate.
    GoName = 4,
    /// Go: `traceEvGoStart`: goroutine `a` starts running on P `small`.
    GoStart = 5,
    /// Go: `traceEvGoSched`: `a` yields (`small` 0: `gosched`, to the global
    /// queue; 1: `goyield`, to its P's ring).
    GoSched = 6,
    /// Go: `traceEvGoPreempt`: `a` is preempted (`small` 0: asynchronously,
    /// the timer interrupt's injection; 1: cooperatively, at a safe point).
    GoPreempt = 7,
    /// Go: `traceEvGoBlock*`: `a` parks; `small`: its wait reason
    /// (`WaitReason` as u8).
    GoBlock = 8,
    /// Go: `traceEvGoUnblock`: `b` (0: an interrupt handler or the
    /// scheduler) readies `a`; `small` 0: into the readier's P, 1: the
    /// global queue, 2: the woken queue (a timer).
    GoUnblock = 9,
    /// Go: `traceEvGoEnd`: `a` returned.
    GoEnd = 10,
    /// Trace stop: `a` was running on `cpu` (a synthetic end; Go ends open
    /// slices the same way at `StopTrace`).
    GoStopSynth = 11,
    /// A steal (Go: `runqsteal`): this P took `b` goroutines from P `small`'s
    /// queue, `a` the one it runs.
    Steal = 12,
    /// Go: `traceEvProcStop`: P `small` goes idle (`aux` 1: synthetic, at
    /// trace stop).
    ProcStop = 13,
    /// Go: `traceEvProcStart`: P `small` runs again (`aux`: how it woke: 0
    /// first event of this CPU, 1 work seen on recheck, 2 work seen before
    /// halting, 3 handed by `wakep`).
    ProcStart = 14,
    /// A wake-up IPI to CPU `small` (`aux` 0: `wakep`, 1: stop the world).
    Ipi = 15,
    /// A timer of P `small` fired and readied goroutine `a`.
    TimerFire = 16,
    /// Go: `traceEvGomaxprocs`: `a` new value, `b` old.
    Gomaxprocs = 17,
    /// A profile sample on `cpu` (Go: a SIGPROF sample): goroutine `a` (0:
    /// the scheduler or idle), interrupted at PC `b`; `small` more frames
    /// (return addresses) follow in [`Kind::Frames`] records.
    Sample = 18,
    /// Up to [`FRAMES_PER_RECORD`] return addresses in `a`, `b` (`small`: how many).
    Frames = 19,
    /// `a` events of `cpu` were dropped (its buffer was full).
    Dropped = 20,
}

impl Kind {
    pub fn from_u8(v: u8) -> Option<Kind> {
        use Kind::*;
        Some(match v {
            1 => Header,
            2 => End,
            3 => GoCreate,
            4 => GoName,
            5 => GoStart,
            6 => GoSched,
            7 => GoPreempt,
            8 => GoBlock,
            9 => GoUnblock,
            10 => GoEnd,
            11 => GoStopSynth,
            12 => Steal,
            13 => ProcStop,
            14 => ProcStart,
            15 => Ipi,
            16 => TimerFire,
            17 => Gomaxprocs,
            18 => Sample,
            19 => Frames,
            20 => Dropped,
            _ => return None,
        })
    }
}

/// One record, as it sits in a buffer and goes down the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(C)]
pub struct Record {
    pub tsc: u64,
    pub kind: u8,
    pub cpu: u8,
    pub small: u16,
    pub aux: u32,
    pub a: u64,
    pub b: u64,
}

const _: () = assert!(core::mem::size_of::<Record>() == RECORD_BYTES);

impl Record {
    pub const fn new(kind: Kind, cpu: usize, small: u16, aux: u32, a: u64, b: u64) -> Record {
        Record {
            tsc: 0,
            kind: kind as u8,
            cpu: cpu as u8,
            small,
            aux,
            a,
            b,
        }
    }

    /// The stream's bytes (little-endian, as on x86 in memory).
    pub fn to_bytes(&self) -> [u8; RECORD_BYTES] {
        let mut o = [0u8; RECORD_BYTES];
        o[0..8].copy_from_slice(&self.tsc.to_le_bytes());
        o[8] = self.kind;
        o[9] = self.cpu;
        o[10..12].copy_from_slice(&self.small.to_le_bytes());
        o[12..16].copy_from_slice(&self.aux.to_le_bytes());
        o[16..24].copy_from_slice(&self.a.to_le_bytes());
        o[24..32].copy_from_slice(&self.b.to_le_bytes());
        o
    }

    pub fn from_bytes(b: &[u8; RECORD_BYTES]) -> Record {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        Record {
            tsc: u64_at(0),
            kind: b[8],
            cpu: b[9],
            small: u16::from_le_bytes([b[10], b[11]]),
            aux: u32::from_le_bytes(b[12..16].try_into().unwrap()),
            a: u64_at(16),
            b: u64_at(24),
        }
    }
}

/// The [`Kind::GoName`] records for goroutine `goid` named `name` (its
/// last [`NAME_MAX`] bytes, cut at a character boundary), into `out`;
/// returns how many.
pub fn name_records(goid: u64, name: &str, cpu: usize, out: &mut [Record]) -> usize {
    let mut start = name.len().saturating_sub(NAME_MAX);
    while !name.is_char_boundary(start) {
        start += 1;
    }
    let bytes = &name.as_bytes()[start..];
    let mut n = 0;
    for chunk in bytes.chunks(NAME_CHUNK) {
        if n == out.len() {
            break;
        }
        let mut buf = [0u8; NAME_CHUNK];
        buf[..chunk.len()].copy_from_slice(chunk);
        out[n] = Record::new(
            Kind::GoName,
            cpu,
            chunk.len() as u16,
            goid as u32,
            u64::from_le_bytes(buf[0..8].try_into().unwrap()),
            u64::from_le_bytes(buf[8..16].try_into().unwrap()),
        );
        n += 1;
    }
    n
}

/// The [`Kind::Frames`] records for `frames` (return addresses), into `out`;
/// returns how many.
pub fn frame_records(frames: &[u64], cpu: usize, out: &mut [Record]) -> usize {
    let mut n = 0;
    for pair in frames.chunks(FRAMES_PER_RECORD) {
        if n == out.len() {
            break;
        }
        out[n] = Record::new(
            Kind::Frames,
            cpu,
            pair.len() as u16,
            0,
            pair[0],
            pair.get(1).copied().unwrap_or(0),
        );
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips_and_is_32_bytes() {
        let mut r = Record::new(Kind::GoUnblock, 3, 2, 0xdead_beef, 42, 7);
        r.tsc = 0x0123_4567_89ab_cdef;
        let b = r.to_bytes();
        assert_eq!(b.len(), 32);
        assert_eq!(b[8], Kind::GoUnblock as u8);
        assert_eq!(Record::from_bytes(&b), r);
        // Little-endian, as the reader expects.
        assert_eq!(&b[0..8], &0x0123_4567_89ab_cdefu64.to_le_bytes());
    }

    #[test]
    fn kinds_round_trip() {
        for v in 0..=255u8 {
            if let Some(k) = Kind::from_u8(v) {
                assert_eq!(k as u8, v);
            }
        }
        assert_eq!(Kind::from_u8(0), None);
        assert_eq!(Kind::from_u8(20), Some(Kind::Dropped));
        assert_eq!(Kind::from_u8(21), None);
    }

    #[test]
    fn names_are_chunked_and_keep_their_tail() {
        let mut out = [Record::default(); 8];
        let n = name_records(5, "main::worker::{{closure}}", 1, &mut out);
        assert_eq!(n, 2);
        let mut s = Vec::new();
        for r in &out[..n] {
            assert_eq!(r.aux, 5);
            let mut b = r.a.to_le_bytes().to_vec();
            b.extend_from_slice(&r.b.to_le_bytes());
            s.extend_from_slice(&b[..r.small as usize]);
        }
        assert_eq!(s, b"main::worker::{{closure}}");
        let long = "x".repeat(100) + "tail";
        let n = name_records(1, &long, 0, &mut out);
        assert_eq!(n, NAME_MAX / NAME_CHUNK);
        let last = out[n - 1];
        assert_eq!(&last.b.to_le_bytes()[4..8], b"tail");
    }

    #[test]
    fn frames_pack_two_per_record() {
        let mut out = [Record::default(); 4];
        assert_eq!(frame_records(&[1, 2, 3], 0, &mut out), 2);
        assert_eq!((out[0].small, out[0].a, out[0].b), (2, 1, 2));
        assert_eq!((out[1].small, out[1].a, out[1].b), (1, 3, 0));
    }
}
