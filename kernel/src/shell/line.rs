//! The shell's line editor: bytes from the UART in, what to echo and whole
//! lines out. Pure (no I/O, no kernel types): host-tested below.
//!
//! Keys: printable ASCII inserts at the end; Backspace (DEL 0x7f, or BS
//! 0x08) deletes the last character; Enter (CR or LF; CR LF counts once)
//! ends the line; Ctrl-C (0x03) cancels the line being typed, or, on an
//! empty line, is an [`Event::Interrupt`] (the shell cancels the running
//! demo); the up and down arrows (`ESC [ A`, `ESC [ B`, also `ESC O A/B`)
//! walk the history. Other escape sequences are swallowed whole, other
//! control bytes ignored. Ctrl-\ never gets here: the interrupt handler
//! takes it (the SIGQUIT dump).
use alloc::string::String;
use alloc::vec::Vec;

/// What the shell prints before a line.
pub const PROMPT: &str = "gmpos> ";
/// Lines kept for the up arrow.
pub const HISTORY_MAX: usize = 64;
/// The longest line; more is ignored (no echo).
pub const LINE_MAX: usize = 256;

const CTRL_C: u8 = 0x03;
const BS: u8 = 0x08;
const ESC: u8 = 0x1b;
const DEL: u8 = 0x7f;

/// What a key did, beyond its echo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Enter: the line (history already updated; may be empty).
    Line(String),
    /// Ctrl-C on a non-empty line: the line was dropped.
    CancelLine,
    /// Ctrl-C on an empty line.
    Interrupt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    None,
    /// After ESC.
    Start,
    /// After `ESC [` or `ESC O`: parameters until a final byte.
    Csi,
}

/// The editor's state: the line being typed and the history.
#[derive(Debug)]
pub struct Editor {
    buf: String,
    history: Vec<String>,
    /// Where the up arrow is in `history` (`None`: at the new line).
    pos: Option<usize>,
    /// The line being typed when the up arrow was first pressed.
    saved: String,
    esc: Esc,
    /// The last byte was CR (a following LF is the same Enter).
    after_cr: bool,
}

impl Editor {
    pub fn new() -> Editor {
        Editor {
            buf: String::new(),
            history: Vec::new(),
            pos: None,
            saved: String::new(),
            esc: Esc::None,
            after_cr: false,
        }
    }

    /// The line typed so far (to redraw it after other output).
    pub fn line(&self) -> &str {
        &self.buf
    }

    /// The history, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    /// Feeds one byte; appends what the terminal should show to `echo`.
    pub fn feed(&mut self, b: u8, echo: &mut String) -> Option<Event> {
        let after_cr = core::mem::replace(&mut self.after_cr, false);
        match self.esc {
            Esc::Start => {
                self.esc = if b == b'[' || b == b'O' {
                    Esc::Csi
                } else {
                    Esc::None
                };
                return None;
            }
            Esc::Csi => {
                // Parameter and intermediate bytes (0x20..=0x3f) go on;
                // a final byte (0x40..=0x7e) ends the sequence.
                if (0x40..=0x7e).contains(&b) {
                    self.esc = Esc::None;
                    match b {
                        b'A' => self.up(echo),
                        b'B' => self.down(echo),
                        _ => {}
                    }
                } else if !(0x20..=0x3f).contains(&b) {
                    self.esc = Esc::None;
                }
                return None;
            }
            Esc::None => {}
        }
        match b {
            b'\n' if after_cr => None,
            b'\r' | b'\n' => {
                self.after_cr = b == b'\r';
                echo.push('\n');
                let line = core::mem::take(&mut self.buf);
                self.pos = None;
                self.saved.clear();
                let t = line.trim();
                if !t.is_empty() && self.history.last().map(String::as_str) != Some(t) {
                    if self.history.len() == HISTORY_MAX {
                        self.history.remove(0);
                    }
                    self.history.push(String::from(t));
                }
                Some(Event::Line(line))
            }
            CTRL_C => {
                echo.push_str("^C\n");
                self.pos = None;
                self.saved.clear();
                if self.buf.is_empty() {
                    Some(Event::Interrupt)
                } else {
                    self.buf.clear();
                    Some(Event::CancelLine)
                }
            }
            BS | DEL => {
                if self.buf.pop().is_some() {
                    echo.push_str("\x08 \x08");
                }
                None
            }
            ESC => {
                self.esc = Esc::Start;
                None
            }
            0x20..=0x7e => {
                if self.buf.len() < LINE_MAX {
                    self.buf.push(b as char);
                    echo.push(b as char);
                }
                None
            }
            _ => None,
        }
    }

    fn up(&mut self, echo: &mut String) {
        let next = match self.pos {
            None if self.history.is_empty() => return,
            None => {
                self.saved = core::mem::take(&mut self.buf);
                self.history.len() - 1
            }
            Some(0) => return,
            Some(i) => i - 1,
        };
        self.pos = Some(next);
        self.buf = self.history[next].clone();
        self.redraw(echo);
    }

    fn down(&mut self, echo: &mut String) {
        let Some(i) = self.pos else { return };
        if i + 1 < self.history.len() {
            self.pos = Some(i + 1);
            self.buf = self.history[i + 1].clone();
        } else {
            self.pos = None;
            self.buf = core::mem::take(&mut self.saved);
        }
        self.redraw(echo);
    }

    /// Back to the line's start, clear it, prompt and line again.
    fn redraw(&self, echo: &mut String) {
        echo.push_str("\r\x1b[K");
        echo.push_str(PROMPT);
        echo.push_str(&self.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes`, returns (events, echo).
    fn feed(e: &mut Editor, bytes: &[u8]) -> (Vec<Event>, String) {
        let mut echo = String::new();
        let ev = bytes.iter().filter_map(|&b| e.feed(b, &mut echo)).collect();
        (ev, echo)
    }

    #[test]
    fn typing_and_enter() {
        let mut e = Editor::new();
        let (ev, echo) = feed(&mut e, b"ps\r");
        assert_eq!(ev, vec![Event::Line("ps".into())]);
        assert_eq!(echo, "ps\n");
        // CR LF is one Enter; a lone LF is one too.
        let (ev, _) = feed(&mut e, b"a\r\nb\n\n");
        assert_eq!(
            ev,
            vec![
                Event::Line("a".into()),
                Event::Line("b".into()),
                Event::Line("".into())
            ]
        );
    }

    #[test]
    fn backspace_edits() {
        let mut e = Editor::new();
        let (ev, echo) = feed(&mut e, b"hepl\x7f\x7flp\x08p\n");
        assert_eq!(ev, vec![Event::Line("help".into())]);
        assert_eq!(echo, "hepl\x08 \x08\x08 \x08lp\x08 \x08p\n");
        // Backspace on an empty line echoes nothing.
        let (_, echo) = feed(&mut e, b"\x7f");
        assert_eq!(echo, "");
    }

    #[test]
    fn ctrl_c_cancels_the_line_or_interrupts() {
        let mut e = Editor::new();
        let (ev, echo) = feed(&mut e, b"run x\x03");
        assert_eq!(ev, vec![Event::CancelLine]);
        assert_eq!(echo, "run x^C\n");
        assert_eq!(e.line(), "");
        let (ev, _) = feed(&mut e, b"\x03");
        assert_eq!(ev, vec![Event::Interrupt]);
        assert!(e.history().is_empty(), "a cancelled line is not history");
    }

    #[test]
    fn up_and_down_walk_the_history() {
        let mut e = Editor::new();
        feed(&mut e, b"one\ntwo\ntwo\nthree\n");
        assert_eq!(e.history(), ["one", "two", "three"], "repeats collapse");
        let (ev, echo) = feed(&mut e, b"x\x1b[A");
        assert!(ev.is_empty());
        assert_eq!(echo, "x\r\x1b[Kgmpos> three");
        feed(&mut e, b"\x1b[A\x1b[A\x1b[A");
        assert_eq!(e.line(), "one", "the oldest stays");
        feed(&mut e, b"\x1bOB");
        assert_eq!(e.line(), "two");
        feed(&mut e, b"\x1b[B\x1b[B");
        assert_eq!(
            e.line(),
            "x",
            "down past the newest gives back the typed line"
        );
        let (ev, _) = feed(&mut e, b"\x7f\x1b[A\n");
        assert_eq!(ev, vec![Event::Line("three".into())]);
    }

    #[test]
    fn other_escapes_and_controls_are_swallowed() {
        let mut e = Editor::new();
        // Delete key (ESC [ 3 ~), right arrow, a lone ESC x, a tab, Ctrl-D.
        let (ev, echo) = feed(&mut e, b"a\x1b[3~\x1b[C\x1bxb\t\x04\n");
        assert_eq!(ev, vec![Event::Line("ab".into())]);
        assert_eq!(echo, "ab\n");
        // Up with no history does nothing.
        let mut e = Editor::new();
        let (_, echo) = feed(&mut e, b"\x1b[A");
        assert_eq!(echo, "");
    }

    #[test]
    fn history_and_lines_are_bounded() {
        let mut e = Editor::new();
        for i in 0..HISTORY_MAX + 5 {
            let mut echo = String::new();
            for b in alloc::format!("c{i}\n").bytes() {
                e.feed(b, &mut echo);
            }
        }
        assert_eq!(e.history().len(), HISTORY_MAX);
        assert_eq!(e.history()[0], "c5");
        let long = [b'x'; LINE_MAX + 10];
        let (_, echo) = feed(&mut e, &long);
        assert_eq!(echo.len(), LINE_MAX);
        assert_eq!(e.line().len(), LINE_MAX);
    }
}
