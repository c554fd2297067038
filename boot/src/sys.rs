//! Unix plumbing: signal handling (QEMU never outlives the runner), the
//! terminal hand-over for interactive runs, and KVM detection.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

/// Process groups of the QEMUs currently running (0 = free slot).
static GROUPS: [AtomicI32; 4] = [const { AtomicI32::new(0) }; 4];
/// The signal that interrupted us, 0 if none.
static INTERRUPTED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    INTERRUPTED.store(sig, Ordering::SeqCst);
    for g in &GROUPS {
        let pgid = g.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill(2) is async-signal-safe; pgid is a group we created.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

/// Installs the SIGINT/SIGTERM/SIGHUP handler that kills every registered
/// QEMU process group.
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is valid; the handler only does
        // async-signal-safe work (atomics and kill).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The signal that interrupted the runner, if any.
pub fn interrupted() -> Option<i32> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// A registered QEMU process group; unregisters on drop.
pub struct GroupGuard(usize);

impl GroupGuard {
    pub fn register(pgid: i32) -> GroupGuard {
        loop {
            for (i, g) in GROUPS.iter().enumerate() {
                if g.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
                {
                    // A signal that came in just before registration.
                    if interrupted().is_some() {
                        kill_group(pgid);
                    }
                    return GroupGuard(i);
                }
            }
            std::thread::yield_now();
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        GROUPS[self.0].store(0, Ordering::SeqCst);
    }
}

pub fn kill_group(pgid: i32) {
    // SAFETY: plain syscall on a process group we created.
    unsafe { libc::kill(-pgid, libc::SIGKILL) };
}

pub fn isatty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// Stdin is a terminal and we are its foreground job: QEMU may take it.
pub fn interactive_stdin() -> bool {
    // SAFETY: plain syscalls on fd 0.
    isatty(0) && unsafe { libc::tcgetpgrp(0) == libc::getpgrp() }
}

/// The terminal state saved before QEMU takes it over; restoring it also
/// makes our process group the foreground job again.
pub struct Terminal {
    termios: libc::termios,
}

impl Terminal {
    pub fn save() -> Option<Terminal> {
        // SAFETY: termios is plain data; tcgetattr fills it.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            (libc::tcgetattr(0, &mut t) == 0).then_some(Terminal { termios: t })
        }
    }

    pub fn restore(&self) {
        // SAFETY: ignoring SIGTTOU lets a background job take the terminal
        // back (tcsetpgrp) and reset its modes; both are plain syscalls.
        unsafe {
            let old = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
            libc::tcsetpgrp(0, libc::getpgrp());
            libc::tcsetattr(0, libc::TCSADRAIN, &self.termios);
            libc::signal(libc::SIGTTOU, old);
        }
    }
}

/// Runs in the forked child before exec (only async-signal-safe calls):
/// own process group, die with the runner, optionally become the
/// terminal's foreground job.
pub fn child_setup(parent: i32, take_terminal: bool) -> std::io::Result<()> {
    // SAFETY: all calls are async-signal-safe syscalls in the child.
    unsafe {
        if libc::setpgid(0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::getppid() != parent {
            libc::_exit(1);
        }
        if take_terminal {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTTOU);
            libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
            libc::tcsetpgrp(0, libc::getpid());
            libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        }
    }
    Ok(())
}

/// KVM only where it really works: the vendor module is loaded (not just a
/// paravirtual /dev/kvm) and /dev/kvm opens read-write.
pub fn kvm_usable() -> bool {
    (Path::new("/sys/module/kvm_intel").exists() || Path::new("/sys/module/kvm_amd").exists())
        && OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok()
}

pub fn pid() -> i32 {
    std::process::id() as i32
}
