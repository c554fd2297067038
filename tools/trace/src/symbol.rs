//! Kernel addresses to function names: the runner's approach
//! (`boot/src/symbolize.rs`): `addr2line` over the unstripped ELF's DWARF,
//! innermost inlined frame first, the symbol table where DWARF has nothing,
//! return addresses looked up one byte back, runtime address minus the
//! image's load address (`layout::KERNEL_BASE`; the PIE is linked at 0).
use std::borrow::Cow;
use std::rc::Rc;

use object::{Object, ObjectSection, ObjectSymbol, SymbolKind};

pub const KERNEL_BASE: u64 = 0xffff_ffff_8000_0000;

type Reader = gimli::EndianRcSlice<gimli::RunTimeEndian>;

pub struct Symbolizer {
    ctx: addr2line::Context<Reader>,
    syms: Vec<(u64, u64, String)>,
    bias: u64,
}

fn demangle(raw: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(raw))
}

impl Symbolizer {
    pub fn new(data: &[u8], bias: u64) -> Result<Symbolizer, String> {
        let file = object::File::parse(data).map_err(|e| format!("not an ELF file: {e}"))?;
        let endian = gimli::RunTimeEndian::Little;
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
                Some((
                    s.address(),
                    s.address() + s.size(),
                    demangle(s.name().ok()?),
                ))
            })
            .collect();
        syms.sort_by_key(|s| s.0);
        for i in 0..syms.len() {
            if syms[i].1 == syms[i].0 {
                syms[i].1 = syms.get(i + 1).map_or(u64::MAX, |n| n.0);
            }
        }
        Ok(Symbolizer { ctx, syms, bias })
    }

    pub fn load(path: &std::path::Path) -> Result<Symbolizer, String> {
        let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Symbolizer::new(&data, KERNEL_BASE).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The functions at runtime address `addr`, innermost (inlined) first;
    /// `exact`: the PC itself, not a return address.
    pub fn functions(&self, addr: u64, exact: bool) -> Vec<String> {
        let a = addr.wrapping_sub(self.bias);
        let probe = if exact { a } else { a.saturating_sub(1) };
        let i = self.syms.partition_point(|s| s.0 <= probe);
        let sym = self.syms[..i].last().filter(|s| probe < s.1);
        let mut out = Vec::new();
        if let Ok(mut it) = self.ctx.find_frames(probe).skip_all_loads() {
            while let Ok(Some(f)) = it.next() {
                if let Some(n) = f
                    .function
                    .as_ref()
                    .and_then(|n| n.raw_name().ok().map(|r| demangle(r.as_ref())))
                    .or_else(|| sym.map(|s| s.2.clone()))
                {
                    out.push(n);
                }
            }
        }
        if out.is_empty() {
            out.push(sym.map_or_else(|| format!("{addr:#x}"), |s| s.2.clone()));
        }
        out
    }
}
