//! The input script of a test (`send=`/`await=` lines in `.gmpos_test`):
//! expect-style typing on the kernel's serial console, for tests of the
//! serial shell. Pure parts (escapes, matching) are unit-tested below; the
//! thread that plays a script against a running QEMU is [`play`].
//!
//! Each `await=TEXT` waits until TEXT appears in the serial output after
//! where the previous `await` matched (the output as shown: tracebacks
//! symbolised, bytes as sent, so a prompt without a newline matches), for
//! at most `await_timeout` seconds; each `send=TEXT` writes TEXT to the
//! serial port. Values are trimmed like every config value; escapes:
//! `\n` (LF), `\r`, `\t`, `\e` (ESC: `\e[A` is the up arrow), `\\`,
//! `\xHH` (any byte: `\x03` Ctrl-C, `\x1c` Ctrl-\, `\x7f` Backspace,
//! `\x20` a space at either end).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// One step of an input script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Write these bytes to the serial port.
    Send(Vec<u8>),
    /// Wait for these bytes in the serial output.
    Await(Vec<u8>),
}

impl Step {
    /// How a failure message names the step: `await "gmpos> "`.
    pub fn describe(&self) -> String {
        match self {
            Step::Send(b) => format!("send \"{}\"", show(b)),
            Step::Await(b) => format!("await \"{}\"", show(b)),
        }
    }
}

/// Bytes as an escaped string (the inverse of [`unescape`] for messages).
pub fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        match c {
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x1b => s.push_str("\\e"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s
}

/// Decodes a `send=`/`await=` value's escapes (see the module doc).
pub fn unescape(v: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let Some(&e) = b.get(i + 1) else {
            return Err(format!("`{v}`: a lone `\\` at the end"));
        };
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'e' => out.push(0x1b),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = b
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(x) => out.push(x),
                    None => return Err(format!("`{v}`: `\\x` needs two hex digits")),
                }
                i += 2;
            }
            _ => {
                return Err(format!(
                    "`{v}`: unknown escape `\\{}` (known: \\n \\r \\t \\e \\\\ \\xHH)",
                    e as char
                ));
            }
        }
    }
    if out.is_empty() {
        return Err("an empty text".into());
    }
    Ok(out)
}

/// Where `needle` first occurs in `hay` (its end), if it does.
pub fn find_end(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + needle.len())
}

/// The serial output as shown, shared between the reader thread (which
/// appends) and the script thread (which waits for texts in it).
#[derive(Default)]
pub struct Transcript {
    state: Mutex<(Vec<u8>, bool)>,
    grew: Condvar,
}

impl Transcript {
    pub fn new() -> Arc<Transcript> {
        Arc::new(Transcript::default())
    }

    /// More output.
    pub fn push(&self, b: &[u8]) {
        self.state.lock().unwrap().0.extend_from_slice(b);
        self.grew.notify_all();
    }

    /// The output ended (QEMU's stdout closed).
    pub fn close(&self) {
        self.state.lock().unwrap().1 = true;
        self.grew.notify_all();
    }

    /// Waits until `needle` occurs at or after `from`; the end of the
    /// match, or why not.
    fn wait_for(&self, from: usize, needle: &[u8], timeout: Duration) -> Result<usize, String> {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap();
        loop {
            if let Some(e) = find_end(&st.0[from.min(st.0.len())..], needle) {
                return Ok(from + e);
            }
            if st.1 {
                return Err("the serial output ended first".into());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("not seen within {} s", crate::cli::secs(timeout)));
            }
            st = self.grew.wait_timeout(st, left).unwrap().0;
        }
    }

    /// Waits until the output ends.
    fn wait_closed(&self) {
        let mut st = self.state.lock().unwrap();
        while !st.1 {
            st = self.grew.wait(st).unwrap();
        }
    }
}

/// Plays `steps` against a running boot: `input` is QEMU's stdin (the
/// serial port), `out` its output. Returns when the script is done and the
/// output ended (stdin stays open until then), or at the first failure:
/// `script step N (await "TEXT"): not seen within S s`.
pub fn play(
    steps: &[Step],
    await_timeout: Duration,
    mut input: impl Write,
    out: &Transcript,
) -> Result<(), String> {
    let mut cursor = 0;
    for (n, step) in steps.iter().enumerate() {
        let fail =
            |why: String| format!("input script step {} ({}): {why}", n + 1, step.describe());
        match step {
            Step::Await(text) => {
                cursor = out.wait_for(cursor, text, await_timeout).map_err(fail)?
            }
            Step::Send(bytes) => input
                .write_all(bytes)
                .and_then(|()| input.flush())
                .map_err(|e| fail(format!("cannot write to QEMU: {e}")))?,
        }
    }
    out.wait_closed();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"ps\n").unwrap(), b"ps\n");
        assert_eq!(
            unescape(r"\x03\x1c\e[A\r\t\\").unwrap(),
            b"\x03\x1c\x1b[A\r\t\\"
        );
        assert_eq!(unescape(r"gmpos>\x20").unwrap(), b"gmpos> ");
        assert!(unescape(r"a\").unwrap_err().contains("lone"));
        assert!(unescape(r"\xg1").unwrap_err().contains("two hex digits"));
        assert!(unescape(r"\x1").unwrap_err().contains("two hex digits"));
        assert!(
            unescape(r"\q")
                .unwrap_err()
                .contains(r"unknown escape `\q`")
        );
        assert!(unescape("").is_err());
        assert_eq!(show(b"a\x03\x1b[A\n\""), r#"a\x03\e[A\n\""#);
    }

    #[test]
    fn matching() {
        assert_eq!(find_end(b"xx gmpos> ", b"gmpos> "), Some(10));
        assert_eq!(find_end(b"gmpos", b"gmpos> "), None);
        assert_eq!(find_end(b"", b"a"), None);
    }

    #[test]
    fn play_awaits_in_order_and_sends() {
        let t = Transcript::new();
        let steps = vec![
            Step::Await(b"gmpos> ".to_vec()),
            Step::Send(b"ps\n".to_vec()),
            Step::Await(b"goroutine".to_vec()),
            Step::Await(b"gmpos> ".to_vec()),
        ];
        let t2 = t.clone();
        let feeder = std::thread::spawn(move || {
            for chunk in [&b"boot\ngmp"[..], b"os> ", b"ps\ngoroutine 1\n", b"gmpos> "] {
                std::thread::sleep(Duration::from_millis(5));
                t2.push(chunk);
            }
            t2.close();
        });
        let mut sent = Vec::new();
        play(&steps, Duration::from_secs(5), &mut sent, &t).unwrap();
        feeder.join().unwrap();
        assert_eq!(sent, b"ps\n");
    }

    #[test]
    fn a_missing_text_fails_naming_it() {
        let t = Transcript::new();
        t.push(b"gmpos> ");
        // The second prompt is not there: the first one was consumed.
        let steps = vec![
            Step::Await(b"gmpos> ".to_vec()),
            Step::Await(b"gmpos> ".to_vec()),
        ];
        let e = play(&steps, Duration::from_millis(50), Vec::new(), &t).unwrap_err();
        assert!(
            e.contains("step 2 (await \"gmpos> \"): not seen within 0.1 s"),
            "{e}"
        );
        t.close();
        let e = play(&steps, Duration::from_secs(5), Vec::new(), &t).unwrap_err();
        assert!(e.contains("the serial output ended first"), "{e}");
    }
}
