//! `select!` (Go: the `select` statement): its syntax, its case slots, and
//! the kernel's entry into `selectgo` (`sync/selectgo.rs`, the algorithm).
//!
//! ```ignore
//! gmpos::select! {
//!     v = recv(&a) => println!("got {v:?}"),       // v: Option<T>, None if closed
//!     recv(&b) => println!("something arrived"),   // the value is dropped
//!     send(&c, 42) => println!("sent"),
//!     default => println!("nothing ready"),        // optional: never blocks
//! }
//! ```
//!
//! - A case's channel is a `&Chan<T>` or an `Option<&Chan<T>>`: `None` is
//!   Go's nil channel, a case that never fires (the idiom for turning a
//!   case off).
//! - The channel and value expressions are evaluated once, in source
//!   order, before anything is tried (as in Go). A losing send case's value
//!   is dropped exactly once, when `select!` ends; the winner's moved into
//!   the channel.
//! - Without `default` the goroutine blocks until a case can proceed; with
//!   several ready, one is picked uniformly at random. `select! {}` blocks
//!   forever (`[select (no cases)]` in a dump).
//! - A send case on a closed channel panics `send on closed channel`, as in
//!   Go; a receive case on a closed channel fires with `None`.
//! - Bodies are plain expressions or blocks (`break`, `continue`, `return`
//!   act on the enclosing code), separated by commas as in `match`.
//! - Goroutines only, `default` or not: interrupt handlers use `try_send`
//!   and `try_recv` (select's random order uses the M's generator, which
//!   interrupt handlers must not touch).
use super::chan::{Chan, Kernel};
use super::hchan::{Slot, take_slot};
use super::selectgo::{Chosen, Scase, selectgo};
use crate::lock::cell::UnsafeCell;
use core::mem::MaybeUninit;

/// What a `select!` case may name as its channel.
pub trait SelectArg<'a, T> {
    fn chan(self) -> Option<&'a Chan<T>>;
}

impl<'a, T> SelectArg<'a, T> for &'a Chan<T> {
    fn chan(self) -> Option<&'a Chan<T>> {
        Some(self)
    }
}

/// Go's nil channel: `None` never fires.
impl<'a, T> SelectArg<'a, T> for Option<&'a Chan<T>> {
    fn chan(self) -> Option<&'a Chan<T>> {
        self
    }
}

/// A receive case and the slot its value lands in.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    c: Option<&'a Chan<T>>,
    slot: Slot<T>,
}

impl<'a, T: Send> RecvCase<'a, T> {
    pub fn new(c: impl SelectArg<'a, T>) -> Self {
        RecvCase {
            c: c.chan(),
            slot: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    pub fn scase(&self) -> Scase<'_, Kernel> {
        Scase {
            c: self.c.map(|c| c.sel()),
            send: false,
            elem: &self.slot as *const Slot<T> as *mut u8,
        }
    }

    /// The case won: its value, or `None` if the channel is closed.
    pub fn fired(&mut self, ok: bool) -> Option<T> {
        // SAFETY: `selectgo` reported this case with `ok`: its slot holds
        // the received value exactly then.
        ok.then(|| unsafe { take_slot(&self.slot) })
    }
}

/// A send case and the value it offers.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    c: Option<&'a Chan<T>>,
    slot: Slot<T>,
    /// The slot still holds the value (it lost, or nothing ran yet).
    full: bool,
}

impl<'a, T: Send> SendCase<'a, T> {
    pub fn new(c: impl SelectArg<'a, T>, v: T) -> Self {
        SendCase {
            c: c.chan(),
            slot: UnsafeCell::new(MaybeUninit::new(v)),
            full: true,
        }
    }

    pub fn scase(&self) -> Scase<'_, Kernel> {
        Scase {
            c: self.c.map(|c| c.sel()),
            send: true,
            elem: &self.slot as *const Slot<T> as *mut u8,
        }
    }

    /// The case won: the value moved into the channel.
    pub fn fired(&mut self, _ok: bool) {
        self.full = false;
    }
}

impl<T> Drop for SendCase<'_, T> {
    fn drop(&mut self) {
        if self.full {
            // SAFETY: the value never moved (the case lost, or no select
            // ran); dropped here, once, outside every lock.
            drop(unsafe { take_slot(&self.slot) });
        }
    }
}

/// Runs `selectgo` over the cases: `Some((case, ok))` or `None` for
/// `default`. Panics `send on closed channel` for a send case on a closed
/// channel.
#[doc(hidden)]
pub fn select<const N: usize>(cases: [Scase<'_, Kernel>; N], block: bool) -> Option<(usize, bool)> {
    crate::sched::check_blocking("select");
    crate::sched::safe_point();
    let mut pollorder = [0u16; N];
    let mut lockorder = [0u16; N];
    match selectgo(&cases, &mut pollorder, &mut lockorder, block) {
        Chosen::Recv(i, ok) => Some((i, ok)),
        Chosen::Sent(i) => Some((i, true)),
        Chosen::SendClosed(_) => panic!("send on closed channel"),
        Chosen::Default => None,
    }
}

/// Go: `select {}`: parks forever.
#[doc(hidden)]
pub fn select_no_cases() -> ! {
    select::<0>([], true);
    unreachable!("select {{}} returned")
}

/// Go's `select` statement; see the module documentation of
/// `gmpos::sync::select` for the syntax and semantics.
#[macro_export]
macro_rules! select {
    () => {
        $crate::sync::select::select_no_cases()
    };
    ($($case:tt)+) => {
        $crate::__select_parse!(@ [] [] (0usize) $($case)+)
    };
}

/// `select!`'s parser: one case at a time into a list of
/// `(name, constructor, index, pattern, body)`; `name` is an identifier
/// made here, distinct per case through macro hygiene.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    (@ [$($c:tt)*] [] ($i:expr) default => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)*] [$body] ($i) $($rest)*)
    };
    (@ [$($c:tt)*] [] ($i:expr) default => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)*] [$body] ($i) $($rest)*)
    };
    (@ [$($c:tt)*] [] ($i:expr) default => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)*] [$body] ($i) $($rest)*)
    };
    (@ [$($c:tt)*] [] ($i:expr) default => $body:expr) => {
        $crate::__select_parse!(@ [$($c)*] [$body] ($i))
    };
    (@ [$($c:tt)*] [$($d:tt)+] ($i:expr) default => $($rest:tt)*) => {
        compile_error!("select!: more than one default case")
    };

    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) send($ch:expr, $v:expr) => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::SendCase::new($ch, $v)] ($i) (_) $body)] [$($d)*] ($i + 1usize) $($rest)*)
    };
    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) send($ch:expr, $v:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::SendCase::new($ch, $v)] ($i) (_) $body)] [$($d)*] ($i + 1usize) $($rest)*)
    };
    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) send($ch:expr, $v:expr) => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::SendCase::new($ch, $v)] ($i) (_) $body)] [$($d)*] ($i + 1usize) $($rest)*)
    };
    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) send($ch:expr, $v:expr) => $body:expr) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::SendCase::new($ch, $v)] ($i) (_) $body)] [$($d)*] ($i + 1usize))
    };

    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) recv($ch:expr) => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::RecvCase::new($ch)] ($i) (_) $body)] [$($d)*] ($i + 1usize) $($rest)*)
    };
    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) recv($ch:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::RecvCase::new($ch)] ($i) (_) $body)] [$($d)*] ($i + 1usize) $($rest)*)
    };
    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) recv($ch:expr) => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::RecvCase::new($ch)] ($i) (_) $body)] [$($d)*] ($i + 1usize) $($rest)*)
    };
    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) recv($ch:expr) => $body:expr) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::RecvCase::new($ch)] ($i) (_) $body)] [$($d)*] ($i + 1usize))
    };

    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) $p:pat = recv($ch:expr) => $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::RecvCase::new($ch)] ($i) ($p) $body)] [$($d)*] ($i + 1usize) $($rest)*)
    };
    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) $p:pat = recv($ch:expr) => $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::RecvCase::new($ch)] ($i) ($p) $body)] [$($d)*] ($i + 1usize) $($rest)*)
    };
    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) $p:pat = recv($ch:expr) => $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::RecvCase::new($ch)] ($i) ($p) $body)] [$($d)*] ($i + 1usize) $($rest)*)
    };
    (@ [$($c:tt)*] [$($d:tt)*] ($i:expr) $p:pat = recv($ch:expr) => $body:expr) => {
        $crate::__select_parse!(@ [$($c)* (case [$crate::sync::select::RecvCase::new($ch)] ($i) ($p) $body)] [$($d)*] ($i + 1usize))
    };

    (@ [$($c:tt)*] [$($d:tt)*] ($n:expr)) => {
        $crate::__select_emit!([$($c)*] [$($d)*])
    };
}

/// `select!`'s code: the case slots in source order, one `selectgo`, the
/// chosen body.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_emit {
    ([$(($name:ident [$ctor:expr] ($i:expr) ($p:pat) $body:expr))*] []) => {{
        $(let mut $name = $ctor;)*
        let __chosen = $crate::sync::select::select([$($name.scase(),)*], true);
        match __chosen {
            $(::core::option::Option::Some((__i, __ok)) if __i == $i => {
                let $p = $name.fired(__ok);
                $body
            })*
            _ => ::core::unreachable!("select: no case chosen"),
        }
    }};
    ([$(($name:ident [$ctor:expr] ($i:expr) ($p:pat) $body:expr))*] [$default:expr]) => {{
        $(let mut $name = $ctor;)*
        let __chosen = $crate::sync::select::select([$($name.scase(),)*], false);
        match __chosen {
            $(::core::option::Option::Some((__i, __ok)) if __i == $i => {
                let $p = $name.fired(__ok);
                $body
            })*
            ::core::option::Option::Some(_) => ::core::unreachable!("select: no such case"),
            ::core::option::Option::None => $default,
        }
    }};
}
