//! `gmpos-boot`: the host-side runner of gmpos. It turns a kernel ELF into a
//! bootable disk image (rust-osdev `bootloader` 0.11, BIOS or UEFI, cached
//! under `target/gmpos-images/` by a hash of the stripped kernel) and boots
//! it in QEMU (q35, KVM where it really works, TCG otherwise). The kernel
//! command line travels through fw_cfg (`opt/gmpos/cmdline`), so changing
//! it or `-smp` never rebuilds an image.
//!
//! It is `make run`'s engine and cargo's runner for `x86_64-unknown-none`
//! (through `scripts/runner.sh`). A kernel with a `.gmpos_test` section is
//! a test kernel: the runner boots every configuration the section asks
//! for and reports its cases like libtest (see [`spec`] and [`testmode`]).
//!
//! # Exit status
//!
//! The kernel ends a boot by writing `0x10 + code` (code 0..=0x6f) to port
//! 0xf4 (isa-debug-exit, 32-bit `out`); QEMU then exits with
//! `((0x10 + code) << 1) | 1 = 33 + 2 * code`, which the runner maps back:
//!
//! | runner status | meaning                                                        |
//! |---------------|----------------------------------------------------------------|
//! | 0             | kernel exit code 0: success                                    |
//! | 2             | kernel exit code 2: Go-style panic / fatal error               |
//! | n (0..=111)   | kernel exit code n, as given                                   |
//! | 1             | runner usage or setup error (bad option, no QEMU, image build) |
//! | 3             | QEMU exited without the kernel's exit device (triple fault under -no-reboot, reset, QEMU error, killed) |
//! | 4             | timeout (after an NMI so the kernel can print every CPU's state) |
//! | 128 + s       | the runner was interrupted by signal s (130 = Ctrl-C)          |
//!
//! Kernel codes 1, 3 and 4 look like runner failures: kernels should not
//! use them. Test mode exits like libtest: 0 if every selected test passed,
//! 101 otherwise (also for a malformed `.gmpos_test` section), 1 on usage
//! errors.

mod cli;
mod image;
mod libtest;
mod protocol;
mod qemu;
mod script;
mod spec;
mod symbolize;
mod sys;
mod testmode;

use std::time::Duration;

use cli::{Accel, Options, Parsed};
use protocol::{BootEnd, EXIT_USAGE};

const HELP: &str = "\
gmpos-boot: boot a gmpos kernel ELF in QEMU (or run a gmpos test kernel)

USAGE:
    gmpos-boot [OPTIONS] KERNEL_ELF [EXTRA...]

OPTIONS (before KERNEL_ELF):
    --smp N            CPUs (default 1)
    --mem SIZE         memory, e.g. 512M, 1G (default 1G)
    --cpu MODEL        QEMU -cpu model (default: QEMU's)
    --accel A          auto|kvm|tcg (default $GMPOS_ACCEL or auto: KVM only where
                       /sys/module/kvm_{intel,amd} exists and /dev/kvm opens rw)
    --icount           deterministic clock: -icount shift=0,sleep=off and a fixed
                       RTC (2026-01-01); forces TCG
    --timeout SECS     kill QEMU after SECS (first an NMI: the kernel prints each
                       CPU's state); 0 = none. Default 60, none when stdin is a
                       terminal or with --gdb; test kernels: their section's value
    --uefi             boot through OVMF instead of BIOS
    --gdb              start paused with a gdb server on :1234 (-s -S)
    --args \"ARGS\"      kernel command line (read by the kernel from fw_cfg
                       opt/gmpos/cmdline)
    -h, --help         this text

EXTRA: for a plain kernel, more kernel command-line words; for a test kernel
(ELF with a .gmpos_test section), libtest arguments: FILTER..., --exact,
--skip F, --list, --ignored, -q, --nocapture, --show-output, --color.

EXIT STATUS:
    0          kernel exit code 0 (success)
    2          kernel exit code 2 (Go-style panic / fatal error)
    n          other kernel exit codes (0..=111) as given; the kernel writes
               0x10+n to port 0xf4 and QEMU exits with 33+2n
    1          usage or setup error (bad option, QEMU missing, image build)
    3          QEMU exited without the kernel's exit device (triple fault,
               reset, QEMU error)
    4          timeout
    128+s      interrupted by signal s
    test kernels: 0 all selected tests passed, 101 a test failed (libtest)

ENVIRONMENT:
    GMPOS_ACCEL        default for --accel
    GMPOS_TEST_JOBS    test configurations booted at once (1 or 2; default 1)
    GMPOS_VERBOSE=1    the bootloader's own serial log (off otherwise); test mode: echo
                       all serial output, show it all on failure
    GMPOS_SHOW_QEMU=1  print the QEMU command line
    GMPOS_QEMU, GMPOS_OVMF_CODE, GMPOS_OVMF_VARS, GMPOS_OBJCOPY, GMPOS_IMAGE_DIR
                       override tools and paths
";

fn usage_error(msg: &str) -> ! {
    eprintln!("gmpos-boot: error: {msg}");
    std::process::exit(EXIT_USAGE);
}

fn main() {
    sys::install_signal_handlers();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match cli::parse(&args) {
        Ok(Parsed::Run(o)) => *o,
        Ok(Parsed::Help) => {
            print!("{HELP}");
            return;
        }
        Ok(Parsed::Version) => {
            println!("gmpos-boot {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Err(e) => usage_error(&e),
    };
    let accel = match opts.accel {
        Some(a) => a,
        None => match std::env::var("GMPOS_ACCEL") {
            Ok(v) => Accel::parse(&v).unwrap_or_else(|e| usage_error(&format!("GMPOS_ACCEL: {e}"))),
            Err(_) => Accel::Auto,
        },
    };
    let kvm = match accel {
        Accel::Kvm => true,
        Accel::Tcg => false,
        Accel::Auto => sys::kvm_usable(),
    };

    let elf = std::fs::read(&opts.kernel)
        .unwrap_or_else(|e| usage_error(&format!("cannot read {}: {e}", opts.kernel.display())));
    let section = match read_test_section(&elf) {
        Ok(s) => s,
        Err(e) => usage_error(&format!("{}: {e}", opts.kernel.display())),
    };
    drop(elf);

    let code = match section {
        Some(bytes) => {
            let machine_flags = [
                ("--smp", opts.smp.is_some()),
                ("--mem", opts.mem.is_some()),
                ("--cpu", opts.cpu.is_some()),
                ("--icount", opts.icount),
                ("--uefi", opts.uefi),
            ];
            if let Some((f, _)) = machine_flags.iter().find(|(_, given)| *given) {
                usage_error(&format!(
                    "{f} cannot be used with a test kernel: its {} section chooses the machines",
                    spec::SECTION
                ));
            }
            match spec::parse(&bytes) {
                Ok(spec) => testmode::run(&opts, spec, kvm),
                Err(e) => {
                    eprintln!("gmpos-boot: error: {}: {e}", opts.kernel.display());
                    testmode::EXIT_TESTS_FAILED
                }
            }
        }
        None => run_plain(&opts, kvm, accel),
    };
    std::process::exit(code);
}

/// The `.gmpos_test` section of the (unstripped) kernel ELF, if any.
fn read_test_section(elf: &[u8]) -> Result<Option<Vec<u8>>, String> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF file: {e}"))?;
    match file.section_by_name(spec::SECTION) {
        Some(s) => s
            .data()
            .map(|d| Some(d.to_vec()))
            .map_err(|e| format!("cannot read {}: {e}", spec::SECTION)),
        None => Ok(None),
    }
}

/// Non-test mode: serial straight to the terminal, status mapped back.
fn run_plain(opts: &Options, kvm: bool, accel: Accel) -> i32 {
    if opts.icount && accel == Accel::Kvm {
        eprintln!("gmpos-boot: note: --icount forces TCG");
    }
    if opts.extra.iter().any(|a| {
        matches!(
            a.as_str(),
            "--nocapture" | "--quiet" | "-q" | "--list" | "--exact"
        )
    }) {
        eprintln!(
            "gmpos-boot: warning: {} has no {} section, so it boots as a plain kernel \
             (its extra arguments become kernel command-line words)",
            opts.kernel.display(),
            spec::SECTION
        );
    }
    let image = match image::prepare(&opts.kernel, opts.uefi) {
        Ok(i) => i,
        Err(e) => usage_error(&e),
    };
    if let Some(t) = image.built_in {
        eprintln!(
            "gmpos-boot: built {} in {:.2}s",
            image.path.display(),
            t.as_secs_f64()
        );
    }
    let mut words: Vec<&str> = vec![opts.args.as_deref().unwrap_or("")];
    words.extend(opts.extra.iter().map(String::as_str));
    let interactive = sys::interactive_stdin();
    if !interactive && !opts.gdb {
        // Nothing can type on the console (CI, a pipe, a background job):
        // the kernel must not wait for a shell user (README: The serial
        // shell).
        words.push("noinput");
    }
    let cmdline = testmode::join_cmdline(&words);
    let timeout = opts.timeout.unwrap_or(if interactive || opts.gdb {
        Duration::ZERO
    } else {
        Duration::from_secs(60)
    });
    let machine = qemu::Machine {
        smp: opts.smp.unwrap_or(1),
        maxcpus: None,
        mem: opts.mem.clone().unwrap_or_else(|| "1G".into()),
        cpu: opts.cpu.clone(),
        icount: opts.icount,
        uefi: opts.uefi,
        kvm: kvm && !opts.icount,
        gdb: opts.gdb,
        cmdline,
        image: image.path,
        debugcon: qemu::trace_out(&opts.kernel),
    };
    if opts.gdb {
        let elf = std::fs::canonicalize(&opts.kernel).unwrap_or_else(|_| opts.kernel.clone());
        let script = image::workspace_root().join("scripts/gmpos-gdb.py");
        eprintln!(
            "gmpos-boot: QEMU waits for gdb on :1234; in another terminal run:\n    \
             gdb -ex 'symbol-file -o {:#x} {}' -ex 'target remote :1234' -ex 'source {}'\n\
             then e.g. `break gmpos::sched::proc::schedule`, `continue`, `info goroutines`, \
             `goroutine 1 bt` (README: Debugging; the kernel runs at {:#x}, linked at 0)",
            symbolize::KERNEL_BASE,
            elf.display(),
            script.display(),
            symbolize::KERNEL_BASE,
        );
    }
    let mut on_line = |_: Duration, _: &str| {};
    let mut o = qemu::BootOptions {
        timeout: (!timeout.is_zero()).then_some(timeout),
        interactive,
        passthrough: true,
        on_line: &mut on_line,
        symbolize: Some(opts.kernel.clone()),
        script: &[],
        await_timeout: Duration::ZERO,
    };
    let r = qemu::boot(&machine, &mut o);
    match &r.end {
        BootEnd::Kernel(0) => {}
        BootEnd::Quit => eprintln!("gmpos-boot: {}", r.end.describe()),
        BootEnd::Kernel(c) => eprintln!("gmpos-boot: {}", BootEnd::Kernel(*c).describe()),
        BootEnd::Timeout(_) => {
            let n = r.lines.len().saturating_sub(20);
            eprintln!(
                "gmpos-boot: {}; last {} serial lines:",
                r.end.describe(),
                r.lines.len() - n
            );
            for l in &r.lines[n..] {
                eprintln!("  | {l}");
            }
        }
        other => eprintln!("gmpos-boot: {}", other.describe()),
    }
    r.end.exit_code()
}
