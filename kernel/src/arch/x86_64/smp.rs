//! PLACEHOLDER (helper-3 replaces this file): single-CPU stand-in.
pub fn init(_rsdp: Option<u64>) {
    crate::println!("smp: 1 of 1 CPUs online");
}
pub fn ncpu() -> usize {
    1
}
