//! Hardware support. Everything that knows about registers, descriptor tables,
//! the APIC or I/O ports lives below `arch/`; the rest of the kernel uses the
//! small interface re-exported here.
pub mod x86_64;

pub use self::x86_64::*;
