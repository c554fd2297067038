//! One QEMU boot: the command line, the process (own process group, killed
//! with the runner), serial capture, timeout with an NMI dump, and the exit
//! status.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::protocol::{BootEnd, classify_status, clean_line};
use crate::script::{self, Step, Transcript};
use crate::sys;

/// Everything that decides one QEMU invocation.
#[derive(Clone, Debug)]
pub struct Machine {
    pub smp: u32,
    /// `-smp smp,maxcpus=N`: CPU slots that are not present at boot.
    pub maxcpus: Option<u32>,
    pub mem: String,
    pub cpu: Option<String>,
    pub icount: bool,
    pub uefi: bool,
    pub kvm: bool,
    pub gdb: bool,
    pub cmdline: String,
    pub image: PathBuf,
    /// Where the debug console (port 0xe9: the kernel's trace and profile
    /// stream) goes; `None`: nowhere (QEMU has no debugcon, writes vanish).
    pub debugcon: Option<PathBuf>,
}

/// The trace stream's file for a boot of `kernel`: `$GMPOS_TRACE_OUT`
/// (`make trace`/`make prof` set it). Beside it, `<file>.kernel` names the
/// ELF, for the host tool's symbolisation.
pub fn trace_out(kernel: &Path) -> Option<PathBuf> {
    let out = PathBuf::from(std::env::var_os("GMPOS_TRACE_OUT")?);
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let elf = std::fs::canonicalize(kernel).unwrap_or_else(|_| kernel.to_path_buf());
    let mut side = out.clone().into_os_string();
    side.push(".kernel");
    let _ = std::fs::write(side, elf.to_string_lossy().as_bytes());
    Some(out)
}

/// fw_cfg option values are comma-separated: a literal comma is `,,`.
pub fn escape_option(s: &str) -> String {
    s.replace(',', ",,")
}

/// The firmware for UEFI boots: read-only code and a template of the
/// variable store (each boot gets a private copy).
pub fn find_ovmf() -> Result<(PathBuf, PathBuf), String> {
    if let (Some(c), Some(v)) = (
        std::env::var_os("GMPOS_OVMF_CODE"),
        std::env::var_os("GMPOS_OVMF_VARS"),
    ) {
        return Ok((c.into(), v.into()));
    }
    const PAIRS: &[(&str, &str)] = &[
        (
            "/usr/share/OVMF/OVMF_CODE_4M.fd",
            "/usr/share/OVMF/OVMF_VARS_4M.fd",
        ),
        (
            "/usr/share/OVMF/OVMF_CODE.fd",
            "/usr/share/OVMF/OVMF_VARS.fd",
        ),
        (
            "/usr/share/edk2/x64/OVMF_CODE.4m.fd",
            "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
        ),
        (
            "/usr/share/edk2/ovmf/OVMF_CODE.fd",
            "/usr/share/edk2/ovmf/OVMF_VARS.fd",
        ),
    ];
    PAIRS
        .iter()
        .find(|(c, v)| Path::new(c).is_file() && Path::new(v).is_file())
        .map(|(c, v)| (PathBuf::from(c), PathBuf::from(v)))
        .ok_or_else(|| {
            "no OVMF firmware found (run scripts/install-deps.sh, or set GMPOS_OVMF_CODE and \
             GMPOS_OVMF_VARS)"
                .into()
        })
}

/// QEMU's arguments. `ovmf`: (code, private vars copy) for UEFI boots.
pub fn qemu_args(m: &Machine, monitor: &Path, ovmf: Option<(&Path, &Path)>) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
    let smp = match m.maxcpus {
        Some(max) => format!("{},maxcpus={max}", m.smp),
        None => m.smp.to_string(),
    };
    push(&["-machine", "q35", "-m", &m.mem, "-smp", &smp]);
    if let Some(cpu) = &m.cpu {
        push(&["-cpu", cpu]);
    }
    if m.icount {
        push(&["-accel", "tcg"]);
        push(&["-icount", "shift=0,sleep=off"]);
        push(&["-rtc", "base=2026-01-01T00:00:00,clock=vm"]);
    } else if m.kvm {
        push(&["-accel", "kvm"]);
    } else {
        push(&["-accel", "tcg"]);
    }
    // The serial port on our stdio with signal=off: Ctrl-C and Ctrl-\\ are
    // bytes for the guest, not signals that kill QEMU (Ctrl-A x quits,
    // QEMU's mux escape).
    push(&["-display", "none", "-no-reboot"]);
    push(&["-chardev", "stdio,id=char0,mux=on,signal=off"]);
    push(&[
        "-serial",
        "chardev:char0",
        "-mon",
        "chardev=char0,mode=readline",
    ]);
    push(&["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    if let Some(out) = &m.debugcon {
        push(&[
            "-debugcon",
            &format!("file:{}", escape_option(&out.to_string_lossy())),
        ]);
    }
    push(&[
        "-monitor",
        &format!(
            "unix:{},server=on,wait=off",
            escape_option(&monitor.to_string_lossy())
        ),
    ]);
    if !m.cmdline.is_empty() {
        push(&[
            "-fw_cfg",
            &format!(
                "name=opt/gmpos/cmdline,string={}",
                escape_option(&m.cmdline)
            ),
        ]);
    }
    if let Some((code, vars)) = ovmf {
        push(&[
            "-drive",
            &format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={}",
                escape_option(&code.to_string_lossy())
            ),
        ]);
        push(&[
            "-drive",
            &format!(
                "if=pflash,format=raw,unit=1,file={}",
                escape_option(&vars.to_string_lossy())
            ),
        ]);
    }
    // snapshot=on: the cached image stays pristine and several QEMUs can
    // share it (no write lock).
    push(&[
        "-drive",
        &format!(
            "format=raw,snapshot=on,file={}",
            escape_option(&m.image.to_string_lossy())
        ),
    ]);
    if m.gdb {
        push(&["-s", "-S"]);
    }
    a
}

pub fn qemu_binary() -> std::ffi::OsString {
    std::env::var_os("GMPOS_QEMU").unwrap_or_else(|| "qemu-system-x86_64".into())
}

/// How a boot is driven.
pub struct BootOptions<'a> {
    pub timeout: Option<Duration>,
    /// QEMU gets our terminal as stdin (and becomes its foreground job).
    pub interactive: bool,
    /// Serial bytes go to our stdout as they arrive (non-test mode).
    pub passthrough: bool,
    /// Called with every cleaned serial line and its time since launch.
    pub on_line: &'a mut dyn FnMut(Duration, &str),
    /// The unstripped kernel ELF: goroutine tracebacks in the serial output
    /// are symbolised from it before they are shown or handed to `on_line`
    /// (`symbolize.rs`); `None` leaves them raw.
    pub symbolize: Option<PathBuf>,
    /// An input script (`send=`/`await=`, `script.rs`) played on the serial
    /// port (QEMU's stdin becomes a pipe); empty: none.
    pub script: &'a [Step],
    /// How long each of its `await`s may wait.
    pub await_timeout: Duration,
}

/// What a boot produced.
pub struct BootResult {
    pub end: BootEnd,
    /// Launch to exit.
    pub elapsed: Duration,
    /// Every serial line, cleaned.
    pub lines: Vec<String>,
    /// QEMU's own stderr lines.
    pub stderr: Vec<String>,
    /// Launch to the first serial line.
    pub first_line: Option<Duration>,
}

enum Msg {
    Line(Instant, String),
    OutEof,
    Err(String),
    ErrEof,
    /// The input script failed (its message).
    ScriptFailed(String),
}

/// A private directory for the monitor socket and the UEFI variable store.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, String> {
        let base = std::env::temp_dir();
        crate::image::remove_stale(&base, "gmpos-boot");
        let p = crate::image::temp_name(&base, "gmpos-boot");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&p)
            .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends one HMP command through the monitor socket and waits (briefly)
/// for QEMU to take it.
pub fn monitor_command(sock: &Path, cmd: &str) -> Result<(), String> {
    let mut s = UnixStream::connect(sock).map_err(|e| format!("monitor: {e}"))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{cmd}\n").as_bytes())
        .map_err(|e| format!("monitor: {e}"))?;
    let t0 = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    // The banner ends in a prompt; a second prompt means our command ran.
    while t0.elapsed() < Duration::from_secs(1) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                seen.extend_from_slice(&buf[..n]);
                if seen.windows(6).filter(|w| w == b"(qemu)").count() >= 2 {
                    break;
                }
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// Boots `m` and waits for the end.
pub fn boot(m: &Machine, o: &mut BootOptions) -> BootResult {
    let t0 = Instant::now();
    let fail = |e: String| BootResult {
        end: BootEnd::Error(e),
        elapsed: t0.elapsed(),
        lines: Vec::new(),
        stderr: Vec::new(),
        first_line: None,
    };
    if let Some(sig) = sys::interrupted() {
        return fail(format!("interrupted by signal {sig}")).with_end(BootEnd::Interrupted(sig));
    }
    let tmp = match TempDir::new() {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let monitor = tmp.0.join("mon.sock");
    let vars_copy = tmp.0.join("OVMF_VARS.fd");
    let ovmf = if m.uefi {
        match find_ovmf() {
            Ok((code, vars)) => {
                if let Err(e) = std::fs::copy(&vars, &vars_copy) {
                    return fail(format!("cannot copy {}: {e}", vars.display()));
                }
                Some(code)
            }
            Err(e) => return fail(e),
        }
    } else {
        None
    };
    let args = qemu_args(
        m,
        &monitor,
        ovmf.as_deref().map(|c| (c, vars_copy.as_path())),
    );
    if std::env::var_os("GMPOS_SHOW_QEMU").is_some() {
        eprintln!(
            "gmpos-boot: {} {}",
            qemu_binary().to_string_lossy(),
            args.join(" ")
        );
    }

    let mut cmd = Command::new(qemu_binary());
    cmd.args(&args)
        .stdin(if o.interactive {
            Stdio::inherit()
        } else if !o.script.is_empty() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let parent = sys::pid();
    let take_terminal = o.interactive;
    // SAFETY: child_setup only makes async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(move || sys::child_setup(parent, take_terminal));
    }
    let terminal = if o.interactive {
        sys::Terminal::save()
    } else {
        None
    };
    let t0 = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return fail(format!(
                "cannot start {}: {e} (run scripts/install-deps.sh)",
                qemu_binary().to_string_lossy()
            ));
        }
    };
    let pgid = child.id() as i32;
    let guard = sys::GroupGuard::register(pgid);

    let (tx, rx) = mpsc::channel::<Msg>();
    let mut out = child.stdout.take().expect("piped stdout");
    let err = child.stderr.take().expect("piped stderr");
    let passthrough = o.passthrough;
    let symbolize = o.symbolize.clone();
    let transcript = (!o.script.is_empty()).then(Transcript::new);
    let script_thread = match (&transcript, child.stdin.take()) {
        (Some(t), Some(stdin)) => {
            let (t, steps, wait, txs) = (t.clone(), o.script.to_vec(), o.await_timeout, tx.clone());
            Some(std::thread::spawn(move || {
                let r = script::play(&steps, wait, stdin, &t);
                if let Err(e) = &r {
                    let _ = txs.send(Msg::ScriptFailed(e.clone()));
                }
                r
            }))
        }
        _ => None,
    };
    let out_transcript = transcript.clone();
    let txo = tx.clone();
    let out_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut partial: Vec<u8> = Vec::new();
        // Built in this thread: the DWARF reader is not Send.
        let mut sym = crate::symbolize::Stream::new(symbolize.map(crate::symbolize::Lazy::new));
        loop {
            let n = match out.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let now = Instant::now();
            let shown = sym.feed(&buf[..n]);
            if let Some(t) = &out_transcript {
                t.push(&shown);
            }
            if passthrough {
                let mut so = std::io::stdout().lock();
                let _ = so.write_all(&shown);
                let _ = so.flush();
            }
            for &b in &shown {
                if b == b'\n' {
                    let _ = txo.send(Msg::Line(now, clean_line(&partial)));
                    partial.clear();
                } else {
                    partial.push(b);
                }
            }
        }
        let rest = sym.finish();
        if passthrough && !rest.is_empty() {
            let mut so = std::io::stdout().lock();
            let _ = so.write_all(&rest);
            let _ = so.flush();
        }
        if let Some(t) = &out_transcript {
            t.push(&rest);
            t.close();
        }
        partial.extend_from_slice(&rest);
        if !partial.is_empty() {
            let _ = txo.send(Msg::Line(Instant::now(), clean_line(&partial)));
        }
        let _ = txo.send(Msg::OutEof);
    });
    let err_thread = std::thread::spawn(move || {
        for line in BufReader::new(err).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line).trim_end().to_string();
            if passthrough {
                eprintln!("{line}");
            }
            let _ = tx.send(Msg::Err(line));
        }
        let _ = tx.send(Msg::ErrEof);
    });

    let mut res = BootResult {
        end: BootEnd::Error(String::new()),
        elapsed: Duration::ZERO,
        lines: Vec::new(),
        stderr: Vec::new(),
        first_line: None,
    };
    // (stdout closed, stderr closed)
    let mut eof = (false, false);
    let mut script_failed: Option<String> = None;
    let mut handle = |msg: Msg,
                      res: &mut BootResult,
                      eof: &mut (bool, bool),
                      script_failed: &mut Option<String>| match msg {
        Msg::Line(at, line) => {
            let at = at.saturating_duration_since(t0);
            res.first_line.get_or_insert(at);
            (o.on_line)(at, &line);
            res.lines.push(line);
        }
        Msg::OutEof => eof.0 = true,
        Msg::Err(l) => res.stderr.push(l),
        Msg::ErrEof => eof.1 = true,
        Msg::ScriptFailed(e) => {
            script_failed.get_or_insert(e);
        }
    };

    let deadline = o.timeout.filter(|d| !d.is_zero()).map(|d| t0 + d);
    let mut timed_out = false;
    while !eof.0 {
        let wait = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => Duration::from_secs(3600),
        };
        match rx.recv_timeout(wait) {
            Ok(msg) => {
                handle(msg, &mut res, &mut eof, &mut script_failed);
                if script_failed.is_some() {
                    // Like a timeout: the NMI dump shows where it is stuck.
                    timed_out = true;
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) if deadline.is_some() => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if timed_out {
        // Ask the kernel where every CPU is (its NMI handler prints that),
        // give it ~5 s (a loaded host runs the vCPUs slowly: 2 s once cut the
        // last CPU's block of a 4-CPU dump short), then pull the plug.
        let _ = monitor_command(&monitor, "nmi");
        let grace = Instant::now() + Duration::from_secs(5);
        while !eof.0 {
            match rx.recv_timeout(grace.saturating_duration_since(Instant::now())) {
                Ok(msg) => handle(msg, &mut res, &mut eof, &mut script_failed),
                Err(_) => break,
            }
        }
        sys::kill_group(pgid);
    }
    let status = child.wait();
    drop(guard);
    res.elapsed = t0.elapsed();
    // QEMU is gone: collect what is left in the pipes.
    let drain_until = Instant::now() + Duration::from_secs(2);
    while !(eof.0 && eof.1) {
        match rx.recv_timeout(drain_until.saturating_duration_since(Instant::now())) {
            Ok(msg) => handle(msg, &mut res, &mut eof, &mut script_failed),
            Err(_) => break,
        }
    }
    let _ = out_thread.join();
    let _ = err_thread.join();
    if let Some(t) = &transcript {
        // The script thread ends with the output (closed by out_thread).
        t.close();
    }
    let script_result = script_thread.map(|h| {
        h.join()
            .unwrap_or_else(|_| Err("the input script's thread panicked".into()))
    });
    if let Some(t) = terminal {
        t.restore();
    }

    let qemu_signal = res.stderr.iter().find_map(|l| {
        l.split_once("terminating on signal ")
            .and_then(|(_, r)| r.split_whitespace().next()?.parse::<i32>().ok())
    });
    res.end = if let Some(e) = script_failed {
        BootEnd::Script(e)
    } else if timed_out {
        BootEnd::Timeout(o.timeout.unwrap_or_default())
    } else if let Some(sig) = sys::interrupted() {
        BootEnd::Interrupted(sig)
    } else {
        match status {
            Err(e) => BootEnd::Error(format!("waiting for QEMU: {e}")),
            Ok(s) => match (s.code(), s.signal()) {
                // Ctrl-C reached an interactive QEMU, which quit.
                (Some(0), _) if qemu_signal.is_some() => {
                    BootEnd::Interrupted(qemu_signal.unwrap_or(libc::SIGINT))
                }
                // The console's `Ctrl-A x`: QEMU says so and exits with 0.
                // (Its note goes to the console, i.e. the serial stream.)
                (Some(0), _)
                    if res
                        .lines
                        .iter()
                        .rev()
                        .take(3)
                        .chain(res.stderr.iter().rev().take(3))
                        .any(|l| l.trim() == "QEMU: Terminated") =>
                {
                    BootEnd::Quit
                }
                (Some(c), _) => classify_status(c),
                (None, Some(sig)) => BootEnd::Signaled(sig),
                (None, None) => BootEnd::Error(format!("QEMU ended with {s}")),
            },
        }
    };
    if let Some(Err(e)) = script_result
        && !matches!(res.end, BootEnd::Script(_))
    {
        // The boot ended before the script did: a clean exit is a failure
        // of the script; any other ending says more, the script's note
        // goes with it.
        if res.end == BootEnd::Kernel(0) {
            res.end = BootEnd::Script(e);
        } else {
            res.stderr.push(format!("gmpos-boot: {e}"));
        }
    }
    res
}

impl BootResult {
    fn with_end(mut self, end: BootEnd) -> BootResult {
        self.end = end;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            smp: 2,
            maxcpus: None,
            mem: "1G".into(),
            cpu: None,
            icount: false,
            uefi: false,
            kvm: false,
            gdb: false,
            cmdline: "a=1,2 b".into(),
            image: "/img/k.img".into(),
            debugcon: None,
        }
    }

    fn joined(m: &Machine, ovmf: Option<(&Path, &Path)>) -> String {
        qemu_args(m, Path::new("/t/mon.sock"), ovmf).join(" ")
    }

    #[test]
    fn bios_tcg() {
        assert_eq!(
            joined(&machine(), None),
            "-machine q35 -m 1G -smp 2 -accel tcg -display none -no-reboot \
             -chardev stdio,id=char0,mux=on,signal=off -serial chardev:char0 \
             -mon chardev=char0,mode=readline \
             -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
             -monitor unix:/t/mon.sock,server=on,wait=off \
             -fw_cfg name=opt/gmpos/cmdline,string=a=1,,2 b -drive format=raw,snapshot=on,file=/img/k.img"
        );
    }

    #[test]
    fn options() {
        let mut m = machine();
        m.cpu = Some("max".into());
        m.icount = true;
        m.kvm = true;
        m.gdb = true;
        m.cmdline.clear();
        let s = joined(&m, Some((Path::new("/o/CODE.fd"), Path::new("/t/VARS.fd"))));
        assert!(s.contains("-cpu max"));
        assert!(s.contains(
            "-accel tcg -icount shift=0,sleep=off -rtc base=2026-01-01T00:00:00,clock=vm"
        ));
        assert!(!s.contains("kvm"), "icount forces TCG");
        assert!(!s.contains("fw_cfg"));
        assert!(s.contains(
            "-drive if=pflash,format=raw,unit=0,readonly=on,file=/o/CODE.fd \
             -drive if=pflash,format=raw,unit=1,file=/t/VARS.fd"
        ));
        assert!(s.ends_with("-s -S"));
        m.icount = false;
        assert!(joined(&m, None).contains("-accel kvm"));
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_option("a,b,,c"), "a,,b,,,,c");
    }

    #[test]
    fn maxcpus_joins_the_smp_value() {
        let mut m = machine();
        m.maxcpus = Some(4);
        let a = qemu_args(&m, Path::new("/tmp/mon"), None);
        let i = a.iter().position(|x| x == "-smp").unwrap();
        assert_eq!(a[i + 1], "2,maxcpus=4");
    }
}
