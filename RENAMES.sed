# Path renames of the restr-arch branch (arch fence, lower-layer DAG).
# Apply with: sed -E -i -f RENAMES.sed <files>
# Clock: the TSC clock is the leaf module `clock` (time keeps Instant/sleep,
# and re-exports now_ns/ns_to_cycles/cycles_to_ns for compatibility).
s/crate::time::(now_ns|mark_boot|tsc_at_boot|set_tsc_hz|tsc_hz|ns_per_cycle_fp32|cycles_to_ns|ns_to_cycles)\b/crate::clock::\1/g
s/crate::time::convert\b/crate::clock::convert/g
s/use super::convert;/use crate::clock::convert;/g
# Address-space constants: the leaf module `layout`.
s/crate::mem::layout\b/crate::layout/g
s/crate::mem::phys_to_virt\b/crate::layout::phys_to_virt/g
s/gmpos::mem::layout\b/gmpos::layout/g
