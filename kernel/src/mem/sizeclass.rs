//! Size classes of the small-object heap (Go: runtime/sizeclasses.go).
//!
//! Go rounds every small allocation up to one of ~68 size classes so that
//! each class's free objects form a plain list: allocation and free are a
//! pop and a push, never a search. gmpos keeps Go's classes from 16 bytes
//! (the backing allocator's smallest block, see `heap::drain_central`) to
//! 2 KiB; anything larger, or aligned more strictly than its class size
//! allows, goes to the backing first-fit allocator.
//!
//! Rounding up wastes at most 16 bytes or 15% of an object (Go's
//! `max waste` column of sizeclasses.go has the same shape);
//! `tests::waste_bounded` checks it for every size.

/// Object sizes of the classes, smallest first (Go's classes 2..=37).
pub const CLASS_SIZE: [u16; NUM_CLASSES] = [
    16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352,
    384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
];

pub const NUM_CLASSES: usize = 37;

/// The largest size a class serves (Go's `_MaxSmallSize` is 32 KiB; the
/// kernel's large objects are rare: run queues, stacks' bookkeeping, the
/// tracer's buffers).
pub const MAX_SMALL: usize = 2048;

/// Bytes carved into objects at a time when a class's central list is empty
/// (Go: a span of `class_to_allocnpages` pages).
pub const SPAN_BYTES: usize = 16 << 10;

/// Go: `size_to_class8`: class of a size <= 1024, indexed by (size + 7) / 8.
const SMALL_TO_CLASS: [u8; 1024 / 8 + 1] = {
    let mut t = [0u8; 1024 / 8 + 1];
    let mut i = 0;
    let mut c = 0;
    while i < t.len() {
        while (CLASS_SIZE[c] as usize) < i * 8 {
            c += 1;
        }
        t[i] = c as u8;
        i += 1;
    }
    t
};

/// Go: `size_to_class128`: class of a size in 1025..=2048, indexed by
/// (size - 1024 + 127) / 128.
const LARGE_TO_CLASS: [u8; (MAX_SMALL - 1024) / 128 + 1] = {
    let mut t = [0u8; (MAX_SMALL - 1024) / 128 + 1];
    let mut i = 0;
    let mut c = 0;
    while i < t.len() {
        while (CLASS_SIZE[c] as usize) < 1024 + i * 128 {
            c += 1;
        }
        t[i] = c as u8;
        i += 1;
    }
    t
};

/// The class serving `size` bytes at alignment `align`, or `None` for the
/// backing allocator. Objects of a class sit at multiples of the class size
/// inside page-aligned spans, so an object is `align`-aligned exactly when
/// the class size is a multiple of `align`.
#[inline]
pub fn class_of(size: usize, align: usize) -> Option<usize> {
    let mut c = if size <= 1024 {
        SMALL_TO_CLASS[size.div_ceil(8)] as usize
    } else if size <= MAX_SMALL {
        LARGE_TO_CLASS[(size - 1024).div_ceil(128)] as usize
    } else {
        return None;
    };
    // `align` is a power of two (a `Layout`'s always is).
    if CLASS_SIZE[c] as usize & (align - 1) == 0 {
        return Some(c);
    }
    while (CLASS_SIZE[c] as usize) & (align - 1) != 0 {
        c += 1;
        if c == NUM_CLASSES {
            return None;
        }
    }
    Some(c)
}

/// Objects moved between a CPU's cache and the central list at a time:
/// enough that the central lock is taken once per many allocations, few
/// enough that idle CPUs do not sit on much memory (Go refills a whole span
/// into the mcache; here a batch is at most 4 KiB or 32 objects).
#[inline]
pub fn batch(class: usize) -> usize {
    (4096 / CLASS_SIZE[class] as usize).clamp(2, 32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_ascend_and_fit_spans() {
        for w in CLASS_SIZE.windows(2) {
            assert!(w[0] < w[1]);
        }
        for &s in &CLASS_SIZE {
            assert_eq!(s % 8, 0, "class {s} is not 8-aligned");
            assert!(SPAN_BYTES / s as usize >= 8, "span too small for {s}");
        }
        assert_eq!(*CLASS_SIZE.last().unwrap() as usize, MAX_SMALL);
    }

    #[test]
    fn smallest_fitting_class() {
        for size in 1..=MAX_SMALL {
            let c = class_of(size, 1).unwrap();
            assert!(CLASS_SIZE[c] as usize >= size, "size {size}");
            if c > 0 {
                assert!((CLASS_SIZE[c - 1] as usize) < size, "size {size} not tight");
            }
        }
        assert_eq!(class_of(MAX_SMALL + 1, 1), None);
        assert_eq!(class_of(0, 1), Some(0));
    }

    #[test]
    fn alignment_respected() {
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096] {
            for size in (1..=MAX_SMALL).step_by(7) {
                if let Some(c) = class_of(size, align) {
                    let s = CLASS_SIZE[c] as usize;
                    assert!(
                        s >= size && s.is_multiple_of(align),
                        "size {size} align {align}"
                    );
                }
            }
        }
        assert_eq!(class_of(24, 16), Some(2)); // 24 is not 16-aligned: 32
        assert_eq!(class_of(100, 4096), None);
    }

    #[test]
    fn waste_bounded() {
        for size in 1..=MAX_SMALL {
            let s = CLASS_SIZE[class_of(size, 1).unwrap()] as usize;
            assert!(
                s - size <= 16 || (s - size) * 100 <= 15 * s,
                "size {size} -> {s}"
            );
        }
    }

    #[test]
    fn batches() {
        assert_eq!(batch(0), 32);
        assert_eq!(batch(NUM_CLASSES - 1), 2);
    }
}
