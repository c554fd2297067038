//! Symbolising the kernel's goroutine tracebacks as serial output passes
//! through. The booted kernel is stripped; it prints raw addresses in lines
//! of their own (`kernel/src/sched/traceback.rs` defines them):
//!
//! ```text
//! \t@pc 0xffffffff80012345                  an exact PC (a trap's, a preemption's RIP)
//! \t@ret 0xffffffff80012345                 a return address (the call is just before it)
//! created by @ret 0xffffffff80012345 in goroutine 1
//! ```
//!
//! and the runner, which holds the unstripped ELF, replaces each with Go's
//! traceback layout (file lines start with a tab), from the ELF's DWARF (the `addr2line` crate, inlined
//! frames included) and its symbol table (function entries, for `+0x`):
//!
//! ```text
//! gmpos::demo::inner(...)                    an inlined frame: no offset, as in Go
//!     /path/kernel/src/demo.rs:12
//! gmpos::demo::filter(...)
//!     /path/kernel/src/demo.rs:42 +0x1f
//! created by gmpos::demo::run in goroutine 1
//!     /path/kernel/src/demo.rs:20 +0x88
//! ```
//!
//! A return address is looked up one byte back (inside the call, as Go's
//! `pc-1`), and its `+0x` is from the function's entry to the address
//! itself (Go prints the same). An address the ELF does not cover is left
//! as it was. Other lines pass through untouched and unbuffered: only a line
//! that starts like a frame line is held until its end.

use std::borrow::Cow;
use std::path::PathBuf;
use std::rc::Rc;

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

/// Where the kernel's image runs: `layout::KERNEL_BASE` (the bootloader
/// loads the PIE, linked from 0, there): runtime address - bias = ELF
/// address.
pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

/// One frame of a symbolised address, innermost (inlined) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymFrame {
    pub function: String,
    pub file: String,
    pub line: u32,
    /// From the function's entry, on the outermost (real) frame only.
    pub offset: Option<u64>,
}

/// What the line rewriter needs: the frames at a runtime address.
pub trait Resolve {
    /// `exact`: `addr` is the instruction itself, not a return address.
    fn resolve(&mut self, addr: u64, exact: bool) -> Result<Vec<SymFrame>, String>;
}

type Reader = gimli::EndianRcSlice<gimli::RunTimeEndian>;

/// The DWARF and symbols of one ELF.
pub struct Symbolizer {
    ctx: addr2line::Context<Reader>,
    /// Function symbols: (start, end, demangled name), sorted by start.
    syms: Vec<(u64, u64, String)>,
    bias: u64,
}

fn demangle(raw: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(raw))
}

impl Symbolizer {
    /// Loads `data` (an ELF) whose image runs `bias` bytes above its link
    /// addresses.
    pub fn new(data: &[u8], bias: u64) -> Result<Symbolizer, String> {
        let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
        let endian = if file.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let load = |id: gimli::SectionId| -> Result<Reader, gimli::Error> {
            let data = file
                .section_by_name(id.name())
                .and_then(|s| s.uncompressed_data().ok())
                .unwrap_or(Cow::Borrowed(&[]));
            Ok(gimli::EndianRcSlice::new(Rc::from(&*data), endian))
        };
        let dwarf = gimli::Dwarf::load(load).map_err(|e| format!("DWARF: {e}"))?;
        let ctx = addr2line::Context::from_dwarf(dwarf).map_err(|e| format!("DWARF: {e}"))?;
        let mut syms: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
            .filter_map(|s| {
                let name = s.name().ok()?;
                Some((s.address(), s.address() + s.size(), demangle(name)))
            })
            .collect();
        syms.sort_by_key(|s| s.0);
        // Symbols without a size (naked asm) end where the next one starts.
        for i in 0..syms.len() {
            if syms[i].1 == syms[i].0 {
                syms[i].1 = syms.get(i + 1).map_or(u64::MAX, |n| n.0);
            }
        }
        Ok(Symbolizer { ctx, syms, bias })
    }

    /// Loads the ELF at `path` (see [`Symbolizer::new`]).
    pub fn load(path: &std::path::Path, bias: u64) -> Result<Symbolizer, String> {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Symbolizer::new(&data, bias).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The function symbol containing ELF address `a`.
    fn symbol(&self, a: u64) -> Option<&(u64, u64, String)> {
        let i = self.syms.partition_point(|s| s.0 <= a);
        self.syms[..i].last().filter(|s| a < s.1)
    }

    /// The frames at ELF address `a` (see [`Resolve::resolve`]).
    pub fn frames_at(&self, a: u64, exact: bool) -> Vec<SymFrame> {
        let probe = if exact { a } else { a.saturating_sub(1) };
        let sym = self.symbol(probe);
        let mut out = Vec::new();
        if let Ok(mut it) = self.ctx.find_frames(probe).skip_all_loads() {
            while let Ok(Some(f)) = it.next() {
                let function = f
                    .function
                    .as_ref()
                    .and_then(|n| n.raw_name().ok().map(|r| demangle(r.as_ref())))
                    .or_else(|| sym.map(|s| s.2.clone()))
                    .unwrap_or_else(|| "?".into());
                let (file, line) = f
                    .location
                    .as_ref()
                    .map(|l| (l.file.unwrap_or("?").to_string(), l.line.unwrap_or(0)))
                    .unwrap_or_else(|| ("?".into(), 0));
                out.push(SymFrame {
                    function,
                    file,
                    line,
                    offset: None,
                });
            }
        }
        if out.is_empty() {
            // No DWARF for it (naked assembly): the symbol alone.
            let Some(s) = sym else { return out };
            out.push(SymFrame {
                function: s.2.clone(),
                file: "?".into(),
                line: 0,
                offset: None,
            });
        }
        if let (Some(last), Some(s)) = (out.last_mut(), sym) {
            last.offset = Some(a - s.0);
        }
        out
    }
}

impl Resolve for Symbolizer {
    fn resolve(&mut self, addr: u64, exact: bool) -> Result<Vec<SymFrame>, String> {
        let a = addr.wrapping_sub(self.bias);
        Ok(self.frames_at(a, exact))
    }
}

/// The ELF at a path, loaded when the first frame line arrives (most boots
/// print none), or the reason it could not be.
pub struct Lazy {
    path: PathBuf,
    loaded: Option<Result<Symbolizer, String>>,
}

impl Lazy {
    pub fn new(path: PathBuf) -> Lazy {
        Lazy { path, loaded: None }
    }
}

impl Resolve for Lazy {
    fn resolve(&mut self, addr: u64, exact: bool) -> Result<Vec<SymFrame>, String> {
        let path = &self.path;
        match self
            .loaded
            .get_or_insert_with(|| Symbolizer::load(path, KERNEL_BASE))
        {
            Ok(s) => s.resolve(addr, exact),
            Err(e) => Err(e.clone()),
        }
    }
}

const FRAME_PC: &str = "\t@pc 0x";
const FRAME_RET: &str = "\t@ret 0x";
const CREATED: &str = "created by @ret 0x";
const MARKERS: [&str; 3] = [FRAME_PC, FRAME_RET, CREATED];

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 16).ok()
}

fn frame_text(f: &SymFrame) -> String {
    match f.offset {
        Some(off) => format!("\t{}:{} +{off:#x}", f.file, f.line),
        None => format!("\t{}:{}", f.file, f.line),
    }
}

/// Rewrites one line (without its newline) if it is a frame line: `None`
/// if it is not one or its address is unknown, else the replacement lines
/// joined by `\n`. `Err` when the ELF cannot be read.
pub fn rewrite_line(line: &str, r: &mut dyn Resolve) -> Result<Option<String>, String> {
    let line = line.trim_end_matches('\r');
    let (addr, exact) = if let Some(a) = line.strip_prefix(FRAME_PC) {
        (a, true)
    } else if let Some(a) = line.strip_prefix(FRAME_RET) {
        (a, false)
    } else if let Some(rest) = line.strip_prefix(CREATED) {
        let Some((a, goid)) = rest.split_once(" in goroutine ") else {
            return Ok(None);
        };
        let (Some(addr), Ok(goid)) = (hex(a), goid.trim().parse::<u64>()) else {
            return Ok(None);
        };
        let frames = r.resolve(addr, false)?;
        // The function the `go` call is written in (innermost), with the
        // real function's offset, as Go's `created by` shows it.
        let (Some(inner), Some(outer)) = (frames.first(), frames.last()) else {
            return Ok(None);
        };
        let at = SymFrame {
            offset: outer.offset,
            ..inner.clone()
        };
        return Ok(Some(format!(
            "created by {} in goroutine {goid}\n{}",
            inner.function,
            frame_text(&at)
        )));
    } else {
        return Ok(None);
    };
    let Some(addr) = hex(addr.trim()) else {
        return Ok(None);
    };
    let frames = r.resolve(addr, exact)?;
    if frames.is_empty() {
        return Ok(None);
    }
    let mut out = String::new();
    for f in &frames {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("{}(...)\n{}", f.function, frame_text(f)));
    }
    Ok(Some(out))
}

/// Longest frame line the stream holds back before giving up on it.
const MAX_FRAME_LINE: usize = 256;

/// The serial byte stream with frame lines symbolised (see the module doc).
pub struct Stream<R: Resolve> {
    resolver: Option<R>,
    /// The current line's bytes held back (it may be a frame line).
    held: Vec<u8>,
    /// The current line is known not to be a frame line: pass it through.
    passing: bool,
    /// A note about an unreadable ELF was printed.
    warned: bool,
}

impl<R: Resolve> Stream<R> {
    /// `resolver: None` passes everything through unchanged.
    pub fn new(resolver: Option<R>) -> Stream<R> {
        Stream {
            resolver,
            held: Vec::new(),
            passing: false,
            warned: false,
        }
    }

    fn could_be_frame(held: &[u8]) -> bool {
        MARKERS.iter().any(|m| {
            let n = held.len().min(m.len());
            held[..n] == m.as_bytes()[..n]
        })
    }

    fn end_held_line(&mut self, out: &mut Vec<u8>) {
        let line = String::from_utf8_lossy(&self.held).into_owned();
        self.held.clear();
        let r = self.resolver.as_mut().expect("held lines imply a resolver");
        match rewrite_line(&line, r) {
            Ok(Some(text)) => {
                out.extend_from_slice(text.as_bytes());
                out.push(b'\n');
                return;
            }
            Ok(None) => {}
            Err(e) => {
                if !self.warned {
                    self.warned = true;
                    out.extend_from_slice(
                        format!("(gmpos-boot: cannot symbolise tracebacks: {e})\n").as_bytes(),
                    );
                }
            }
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }

    /// Feeds serial bytes; returns what to show now.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        if self.resolver.is_none() {
            return bytes.to_vec();
        }
        let mut out = Vec::with_capacity(bytes.len());
        for &b in bytes {
            if self.passing {
                out.push(b);
                if b == b'\n' {
                    self.passing = false;
                }
                continue;
            }
            if b == b'\n' {
                self.end_held_line(&mut out);
                continue;
            }
            self.held.push(b);
            if !Self::could_be_frame(&self.held) || self.held.len() > MAX_FRAME_LINE {
                out.append(&mut self.held);
                self.passing = true;
            }
        }
        out
    }

    /// The end of the stream: a held partial line, as it is.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every address resolves to two frames (one inlined), offset from
    /// 0x1000, except those below 0x100 (unknown).
    struct Fake;

    impl Resolve for Fake {
        fn resolve(&mut self, addr: u64, exact: bool) -> Result<Vec<SymFrame>, String> {
            if addr < 0x100 {
                return Ok(Vec::new());
            }
            let line = if exact { 1 } else { 2 };
            Ok(vec![
                SymFrame {
                    function: "k::inner".into(),
                    file: "/k/src/a.rs".into(),
                    line,
                    offset: None,
                },
                SymFrame {
                    function: "k::outer".into(),
                    file: "/k/src/a.rs".into(),
                    line: 10,
                    offset: Some(addr - 0x1000),
                },
            ])
        }
    }

    fn run(chunks: &[&[u8]]) -> String {
        let mut s = Stream::new(Some(Fake));
        let mut out = Vec::new();
        for c in chunks {
            out.extend(s.feed(c));
        }
        out.extend(s.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn frame_lines_become_go_layout() {
        let got = run(&[
            b"goroutine 7 [sleep]:\n\t@pc 0x1010\n\t@ret 0x1020\ncreated by @ret 0x1030 in goroutine 1\nafter\n",
        ]);
        assert_eq!(
            got,
            "goroutine 7 [sleep]:\n\
             k::inner(...)\n\t/k/src/a.rs:1\nk::outer(...)\n\t/k/src/a.rs:10 +0x10\n\
             k::inner(...)\n\t/k/src/a.rs:2\nk::outer(...)\n\t/k/src/a.rs:10 +0x20\n\
             created by k::inner in goroutine 1\n\t/k/src/a.rs:2 +0x30\n\
             after\n"
        );
    }

    #[test]
    fn split_chunks_other_lines_and_unknown_addresses() {
        // A frame line split across reads, a tab line that is no frame, an
        // address nothing covers, a partial line at the end.
        let got = run(&[b"\t@r", b"et 0x10", b"08\r\n\tplain\n\t@pc 0x10\nend"]);
        assert_eq!(
            got,
            "k::inner(...)\n\t/k/src/a.rs:2\nk::outer(...)\n\t/k/src/a.rs:10 +0x8\n\
             \tplain\n\t@pc 0x10\nend"
        );
    }

    #[test]
    fn lines_that_are_not_frames_are_not_held() {
        let mut s = Stream::new(Some(Fake));
        // The prompt of a shell: shown at once, without its newline.
        assert_eq!(s.feed(b"gmpos> "), b"gmpos> ");
        assert_eq!(s.feed(b"ls\n"), b"ls\n");
        assert_eq!(s.feed(b"\t@"), b"", "a possible frame line is held");
        assert_eq!(s.feed(b"x\n"), b"\t@x\n");
        let mut none: Stream<Fake> = Stream::new(None);
        assert_eq!(none.feed(b"\t@pc 0x1010\n"), b"\t@pc 0x1010\n");
    }

    /// A small program built with the host's rustc in the test (debug info,
    /// frame pointers, one function inlined into another), then symbolised
    /// from its own ELF: names, files, lines, inlined frames, offsets.
    #[test]
    fn symbolises_a_real_elf() {
        let dir = std::env::temp_dir().join(format!("gmpos-symtest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("tiny.rs");
        std::fs::write(
            &src,
            "#[inline(never)]\n\
             pub fn leaf(x: u64) -> u64 {\n\
             \x20   std::hint::black_box(x) * 3\n\
             }\n\
             #[inline(always)]\n\
             fn middle(x: u64) -> u64 {\n\
             \x20   leaf(x) + 1\n\
             }\n\
             #[inline(never)]\n\
             pub fn outer(x: u64) -> u64 {\n\
             \x20   middle(x) * 2\n\
             }\n\
             fn main() {\n\
             \x20   println!(\"{}\", outer(std::hint::black_box(5)));\n\
             }\n",
        )
        .unwrap();
        let exe = dir.join("tiny");
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let st = std::process::Command::new(rustc)
            .args(["--edition", "2021", "-g", "-C", "opt-level=1"])
            .args(["-C", "force-frame-pointers=yes", "-o"])
            .arg(&exe)
            .arg(&src)
            .status()
            .expect("run rustc");
        assert!(st.success());
        let data = std::fs::read(&exe).unwrap();
        let sym = Symbolizer::new(&data, 0).unwrap();
        let file = object::File::parse(&*data).unwrap();
        let find = |name: &str| {
            file.symbols()
                .find(|s| {
                    s.kind() == SymbolKind::Text
                        && s.name()
                            .is_ok_and(|n| demangle(n) == format!("tiny::{name}"))
                })
                .map(|s| (s.address(), s.size()))
                .unwrap_or_else(|| panic!("no symbol tiny::{name}"))
        };
        // The entry of `leaf`, exactly: its own name and line 2, +0x0.
        let (leaf, _) = find("leaf");
        let f = sym.frames_at(leaf, true);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].function, "tiny::leaf");
        assert!(f[0].file.ends_with("tiny.rs"), "{f:?}");
        assert_eq!((f[0].line, f[0].offset), (2, Some(0)));
        // Somewhere in `outer` the call to `leaf` was inlined from
        // `middle`: that return address shows middle (line 7, no offset),
        // then outer (line 11, with one), Go's order.
        let (outer, size) = find("outer");
        let inlined = (outer + 1..outer + size)
            .map(|a| (a, sym.frames_at(a, false)))
            .find(|(_, f)| f.len() == 2)
            .expect("an address in outer with middle inlined");
        let (a, f) = inlined;
        assert_eq!(f[0].function, "tiny::middle");
        assert_eq!((f[0].line, f[0].offset), (7, None));
        assert_eq!(f[1].function, "tiny::outer");
        assert_eq!((f[1].line, f[1].offset), (11, Some(a - outer)));
        // Through the line rewriter, with a bias as the kernel's.
        let mut biased = Symbolizer::new(&data, KERNEL_BASE).unwrap();
        let line = format!("\t@ret {:#x}", a + KERNEL_BASE);
        let text = rewrite_line(&line, &mut biased).unwrap().unwrap();
        let want = format!(
            "tiny::middle(...)\n\t{}:7\ntiny::outer(...)\n\t{}:11 +{:#x}",
            f[0].file,
            f[1].file,
            a - outer
        );
        assert_eq!(text, want);
        let created = format!("created by @ret {:#x} in goroutine 3", a + KERNEL_BASE);
        let text = rewrite_line(&created, &mut biased).unwrap().unwrap();
        assert_eq!(
            text,
            format!(
                "created by tiny::middle in goroutine 3\n\t{}:7 +{:#x}",
                f[0].file,
                a - outer
            )
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
