//! The serial shell: a system goroutine reading COM1, woken by the UART's
//! receive interrupt (`input.rs`: Go's netpoller, for one device), with a
//! line editor (`line.rs`), commands (`commands.rs`) and demos run on
//! their own goroutines (`demo.rs`).
//!
//! # Who owns what
//!
//! - The shell goroutine owns the line editor and runs the commands, one
//!   at a time, on itself.
//! - The SIGQUIT goroutine (Ctrl-\) prints every goroutine's traceback.
//! - A demo runs on a user goroutine `run` starts; a watcher (system)
//!   reports its end and cancels it when a deadlock is reported.
//! - `main` hands over by calling [`start`] and returning: [`start`] holds
//!   the kernel up (`sched::stayup`), so `main` returning does not power
//!   off, and no user goroutine sits parked while the shell idles (which
//!   `checkdead` would call a deadlock). Deadlocks are reported, not fatal,
//!   while the shell is up (`deadlock::set_report_only`).
pub mod line;

#[cfg(target_os = "none")]
pub mod commands;
#[cfg(target_os = "none")]
pub mod demo;
#[cfg(target_os = "none")]
pub mod input;

#[cfg(target_os = "none")]
pub use self::kernel::start;

#[cfg(target_os = "none")]
mod kernel {
    use alloc::string::String;
    use core::sync::atomic::{AtomicBool, Ordering};

    use super::input::{self, Input};
    use super::line::{Editor, Event, PROMPT};
    use super::{commands, demo};
    use crate::sched::{self, deadlock};
    use crate::{print, println};

    static STARTED: AtomicBool = AtomicBool::new(false);

    /// Starts the shell (once; false if it already runs): the UART
    /// interrupt, the shell's and the SIGQUIT dumper's system goroutines;
    /// deadlocks become reports, and the kernel stays up after `main`
    /// (`halt` powers off). The caller (`main`) should return afterwards.
    pub fn start() -> bool {
        if STARTED.swap(true, Ordering::AcqRel) {
            return false;
        }
        if let Err(e) = input::init() {
            println!("shell: cannot route COM1's interrupt ({e:?}); no shell");
            return false;
        }
        deadlock::set_report_only(true);
        sched::stayup::hold();
        sched::go_system(sigquit);
        sched::go_system(shell);
        true
    }

    /// The shell's goroutine: prompt, keys, commands.
    fn shell() {
        println!("gmpos shell: `help` lists the commands; Ctrl-A x quits QEMU");
        print!("{PROMPT}");
        let mut ed = Editor::new();
        let mut echo = String::new();
        for inp in input::input() {
            let b = match inp {
                Input::Byte(b) => b,
                Input::Redraw => {
                    print!("{PROMPT}{}", ed.line());
                    continue;
                }
            };
            echo.clear();
            let ev = ed.feed(b, &mut echo);
            if !echo.is_empty() {
                print!("{echo}");
            }
            match ev {
                None => continue,
                Some(Event::Line(l)) => {
                    if let Err(e) = commands::dispatch(&l) {
                        println!("{e}");
                    }
                }
                Some(Event::CancelLine) => {}
                Some(Event::Interrupt) => {
                    demo::cancel("Ctrl-C");
                }
            }
            print!("{PROMPT}");
        }
    }

    /// Ctrl-\ (Go's SIGQUIT): every goroutine's traceback, the kernel
    /// running on.
    fn sigquit() {
        for () in input::quit() {
            println!();
            println!(
                "SIGQUIT: goroutine dump (Ctrl-\\), {} user goroutine(s); the kernel keeps running",
                sched::num_goroutine()
            );
            sched::dump::dump_all();
            println!("SIGQUIT: end of dump");
            let _ = input::input().try_send(Input::Redraw);
        }
    }
}
