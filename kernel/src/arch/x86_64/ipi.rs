//! PLACEHOLDER (helper-3 replaces this file).
pub fn send_wakeup(_cpu: usize) {}
