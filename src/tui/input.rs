//! Reading the terminal. One thread reads every byte the moment it arrives (a level-triggered
//! `poll` on stdin, then a read of all that is there), turns bytes into keys and bracketed
//! pastes, and hands them to the main loop. It never waits for a second wake-up with bytes
//! still pending: crossterm's reader did (an edge-triggered epoll that returns after the
//! first event), so a long paste stalled half-read and its tail reached the shell when
//! kluis exited (issue 19). The same thread drains what is still arriving when kluis locks
//! or exits, so nothing typed or pasted is left in the terminal for the shell.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use zeroize::{Zeroize, Zeroizing};

/// The most a paste keeps (a note is at most 1 MB); the rest is read and dropped.
pub const MAX_PASTE: usize = 4 << 20;

/// What the terminal said.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// A key.
    Key(KeyEvent),
    /// A bracketed paste, whole (and whether it was longer than [`MAX_PASTE`]).
    Paste(Zeroizing<String>, bool),
    /// The terminal hung up or cannot be read.
    Gone,
}

/// Turns bytes from the terminal into events. Pure: tested without a terminal.
#[derive(Default)]
pub struct Parser {
    /// Bytes of a sequence or character not complete yet.
    pending: Zeroizing<Vec<u8>>,
    /// Inside a bracketed paste: what it holds so far.
    paste: Option<Zeroizing<Vec<u8>>>,
    /// The last bytes of a paste, not yet known not to start its end marker.
    tail: Zeroizing<Vec<u8>>,
    /// The paste was longer than [`MAX_PASTE`].
    cut: bool,
}

#[cfg(test)]
const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

fn key(code: KeyCode, mods: KeyModifiers) -> Event {
    Event::Key(KeyEvent::new(code, mods))
}

/// What a complete sequence at the start of `b` is, and how long it is. None: incomplete.
/// Some((None, n)): n bytes that mean nothing to kluis (a mouse report, say).
type Parsed = Option<(Option<Event>, usize)>;

impl Parser {
    /// Whether an escape sequence or character waits for more bytes.
    pub fn waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether a paste is being read.
    pub fn pasting(&self) -> bool {
        self.paste.is_some()
    }

    /// Feeds bytes as they were read; complete events go to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<Event>) {
        let mut data = std::mem::take(&mut self.pending);
        data.extend_from_slice(bytes);
        let mut i = 0;
        while i < data.len() {
            if self.paste.is_some() {
                i = self.paste_bytes(&data, i, out);
                continue;
            }
            match parse(&data[i..]) {
                None => break,
                Some((event, n)) => {
                    i += n;
                    match event {
                        Some(Event::Paste(..)) => {
                            self.paste = Some(Zeroizing::new(Vec::new()));
                            self.cut = false;
                        }
                        Some(e) => out.push(e),
                        None => {}
                    }
                }
            }
        }
        self.pending.extend_from_slice(&data[i..]);
        data.zeroize();
    }

    /// Takes paste bytes from `data[i..]` up to the end marker; returns where to go on. The
    /// last few bytes stay uncommitted in `tail`, since the end marker may straddle reads.
    fn paste_bytes(&mut self, data: &[u8], i: usize, out: &mut Vec<Event>) -> usize {
        let mut window = std::mem::take(&mut self.tail);
        let from_tail = window.len();
        window.extend_from_slice(&data[i..]);
        if let Some(at) = find(&window, PASTE_END) {
            self.commit(&window[..at]);
            let text = self.paste.take().expect("in a paste");
            let text = Zeroizing::new(String::from_utf8_lossy(&text).into_owned());
            out.push(Event::Paste(text, std::mem::take(&mut self.cut)));
            return i + (at + PASTE_END.len() - from_tail);
        }
        let keep = window.len().min(PASTE_END.len() - 1);
        let split = window.len() - keep;
        self.commit(&window[..split]);
        self.tail.extend_from_slice(&window[split..]);
        data.len()
    }

    /// Adds paste bytes, up to [`MAX_PASTE`].
    fn commit(&mut self, bytes: &[u8]) {
        let paste = self.paste.as_mut().expect("in a paste");
        let room = MAX_PASTE.saturating_sub(paste.len());
        if bytes.len() > room {
            self.cut = true;
        }
        paste.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// No byte came for a moment: a lone Esc is the Esc key; a paste whose end never came
    /// is given as it is (a terminal that cut it short must not swallow every key after).
    pub fn flush(&mut self, out: &mut Vec<Event>) {
        if self.paste.is_some() {
            let tail = std::mem::take(&mut self.tail);
            self.commit(&tail);
            let p = self.paste.take().expect("in a paste");
            let text = Zeroizing::new(String::from_utf8_lossy(&p).into_owned());
            out.push(Event::Paste(text, std::mem::take(&mut self.cut)));
        }
        if self.pending.first() == Some(&0x1b) {
            out.push(key(KeyCode::Esc, KeyModifiers::NONE));
            let rest = self.pending[1..].to_vec();
            self.pending.clear();
            self.feed(&rest, out);
            if self.waiting() {
                // Not a sequence even with time to complete: drop it.
                self.pending.clear();
            }
        } else {
            self.pending.clear();
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One key, paste start or ignored sequence at the start of `b`.
fn parse(b: &[u8]) -> Parsed {
    let none = KeyModifiers::NONE;
    let ctrl = KeyModifiers::CONTROL;
    let first = *b.first()?;
    let ev = |code, mods| Some((Some(key(code, mods)), 1));
    match first {
        0x1b => parse_escape(b),
        b'\r' | b'\n' => ev(KeyCode::Enter, none),
        b'\t' => ev(KeyCode::Tab, none),
        0x7f | 0x08 => ev(KeyCode::Backspace, none),
        0x00 => ev(KeyCode::Char(' '), ctrl),
        0x01..=0x1a => ev(KeyCode::Char(char::from(first - 1 + b'a')), ctrl),
        0x1c..=0x1f => Some((None, 1)),
        _ => parse_char(b).map(|(c, n)| (Some(key(KeyCode::Char(c), none)), n)),
    }
}

/// A UTF-8 character; None when incomplete. An invalid byte is skipped as U+FFFD.
fn parse_char(b: &[u8]) -> Option<(char, usize)> {
    let n = match b[0] {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return Some((char::REPLACEMENT_CHARACTER, 1)),
    };
    if b.len() < n {
        // Incomplete, unless what is there already cannot be the start of a character.
        return if b[1..].iter().all(|x| (0x80..=0xbf).contains(x)) {
            None
        } else {
            Some((char::REPLACEMENT_CHARACTER, 1))
        };
    }
    match std::str::from_utf8(&b[..n]) {
        Ok(s) => s.chars().next().map(|c| (c, n)),
        Err(_) => Some((char::REPLACEMENT_CHARACTER, 1)),
    }
}

fn modifiers(param: Option<&str>) -> KeyModifiers {
    let m: u8 = param.and_then(|p| p.parse().ok()).unwrap_or(1);
    let bits = m.saturating_sub(1);
    let mut mods = KeyModifiers::NONE;
    if bits & 1 != 0 {
        mods |= KeyModifiers::SHIFT;
    }
    if bits & 2 != 0 {
        mods |= KeyModifiers::ALT;
    }
    if bits & 4 != 0 {
        mods |= KeyModifiers::CONTROL;
    }
    mods
}

fn parse_escape(b: &[u8]) -> Parsed {
    let &second = b.get(1)?;
    let with = |code, mods, n| Some((Some(key(code, mods)), n));
    match second {
        b'[' => parse_csi(b),
        b'O' => {
            let third = *b.get(2)?;
            let code = match third {
                b'P' => KeyCode::F(1),
                b'Q' => KeyCode::F(2),
                b'R' => KeyCode::F(3),
                b'S' => KeyCode::F(4),
                b'A' => KeyCode::Up,
                b'B' => KeyCode::Down,
                b'C' => KeyCode::Right,
                b'D' => KeyCode::Left,
                b'H' => KeyCode::Home,
                b'F' => KeyCode::End,
                _ => return Some((None, 3)),
            };
            with(code, KeyModifiers::NONE, 3)
        }
        0x1b => with(KeyCode::Esc, KeyModifiers::NONE, 1),
        _ => match parse(&b[1..])? {
            (Some(Event::Key(k)), n) => with(k.code, k.modifiers | KeyModifiers::ALT, n + 1),
            (_, n) => Some((None, n + 1)),
        },
    }
}

fn parse_csi(b: &[u8]) -> Parsed {
    // ESC [ [ A..E: F1-F5 on the Linux console.
    if b.get(2) == Some(&b'[') {
        let code = match *b.get(3)? {
            c @ b'A'..=b'E' => KeyCode::F(c - b'A' + 1),
            _ => return Some((None, 4)),
        };
        return Some((Some(key(code, KeyModifiers::NONE)), 4));
    }
    // Parameters, intermediates, then a final byte in 0x40..=0x7e.
    let end = b[2..].iter().position(|x| (0x40..=0x7e).contains(x));
    let Some(end) = end.map(|e| e + 2) else {
        // Too long to be a key: drop what is there rather than wait forever.
        return if b.len() > 64 {
            Some((None, b.len()))
        } else {
            None
        };
    };
    let n = end + 1;
    let params = std::str::from_utf8(&b[2..end]).unwrap_or("");
    let mut parts = params.split(';');
    let first = parts.next().filter(|p| !p.is_empty());
    let mods = modifiers(parts.next());
    let code = match b[end] {
        b'A' => KeyCode::Up,
        b'B' => KeyCode::Down,
        b'C' => KeyCode::Right,
        b'D' => KeyCode::Left,
        b'H' => KeyCode::Home,
        b'F' => KeyCode::End,
        b'P' => KeyCode::F(1),
        b'Q' => KeyCode::F(2),
        b'R' => KeyCode::F(3),
        b'S' => KeyCode::F(4),
        b'Z' => return Some((Some(key(KeyCode::BackTab, KeyModifiers::SHIFT)), n)),
        b'~' => match first.and_then(|p| p.parse::<u16>().ok()) {
            Some(200) => return Some((Some(Event::Paste(Zeroizing::default(), false)), n)),
            Some(1 | 7) => KeyCode::Home,
            Some(2) => KeyCode::Insert,
            Some(3) => KeyCode::Delete,
            Some(4 | 8) => KeyCode::End,
            Some(5) => KeyCode::PageUp,
            Some(6) => KeyCode::PageDown,
            Some(f @ 11..=15) => KeyCode::F((f - 10) as u8),
            Some(f @ 17..=21) => KeyCode::F((f - 11) as u8),
            Some(f @ 23..=24) => KeyCode::F((f - 12) as u8),
            _ => return Some((None, n)),
        },
        _ => return Some((None, n)),
    };
    Some((Some(key(code, mods)), n))
}

/// Shared between the reader thread and whoever drains it.
struct Shared {
    /// Drop everything read from now on.
    discard: AtomicBool,
    /// When the last byte was read (ms since `start`).
    last_byte: AtomicU64,
    start: Instant,
}

/// The reader thread's handle: drains the terminal when kluis locks or exits.
#[derive(Clone)]
pub struct Reader {
    shared: Arc<Shared>,
}

/// What the reader hands the main loop.
pub trait Sink: Send + 'static {
    /// One event; false when nobody listens any more.
    fn send(&self, e: Event) -> bool;
}

impl<T: From<Event> + Send + 'static> Sink for Sender<T> {
    fn send(&self, e: Event) -> bool {
        Sender::send(self, T::from(e)).is_ok()
    }
}

/// Starts the reader thread on stdin.
pub fn spawn(sink: impl Sink) -> Reader {
    let shared = Arc::new(Shared {
        discard: AtomicBool::new(false),
        last_byte: AtomicU64::new(0),
        start: Instant::now(),
    });
    let reader = Reader {
        shared: shared.clone(),
    };
    std::thread::spawn(move || read_loop(&shared, &sink));
    reader
}

fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Waits up to `ms` for stdin; Some(true) readable, Some(false) timed out, None hung up.
fn wait(ms: i32) -> Option<bool> {
    let mut fds = libc::pollfd {
        fd: 0,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll on one valid pollfd.
    let n = unsafe { libc::poll(&mut fds, 1, ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return (e.kind() == std::io::ErrorKind::Interrupted).then_some(false);
    }
    if n == 0 {
        return Some(false);
    }
    if fds.revents & libc::POLLIN != 0 {
        return Some(true);
    }
    // Hung up with nothing left to read.
    None
}

/// Reads what is there (at most `buf.len()` bytes); None when the terminal is gone.
fn read_some(buf: &mut [u8]) -> Option<usize> {
    // SAFETY: reading into a live buffer of its own length.
    let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
    if n > 0 {
        return usize::try_from(n).ok();
    }
    if n < 0 {
        let e = std::io::Error::last_os_error();
        if matches!(
            e.kind(),
            std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
        ) {
            return Some(0);
        }
    }
    None
}

fn read_loop(shared: &Shared, sink: &impl Sink) {
    let mut parser = Parser::default();
    let mut buf = Zeroizing::new(vec![0u8; 1 << 16]);
    let mut events = Vec::new();
    loop {
        // A lone Esc is told from the start of a sequence by a short pause; an unfinished
        // paste by a long one.
        let timeout = if parser.waiting() {
            25
        } else if parser.pasting() {
            2000
        } else {
            250
        };
        match wait(timeout) {
            None => {
                sink.send(Event::Gone);
                return;
            }
            Some(false) => {
                if parser.waiting() || parser.pasting() {
                    parser.flush(&mut events);
                }
            }
            Some(true) => {
                let Some(n) = read_some(&mut buf) else {
                    sink.send(Event::Gone);
                    return;
                };
                shared
                    .last_byte
                    .store(elapsed_ms(shared.start), Ordering::SeqCst);
                if shared.discard.load(Ordering::SeqCst) {
                    buf[..n].zeroize();
                    continue;
                }
                parser.feed(&buf[..n], &mut events);
                buf[..n].zeroize();
            }
        }
        for e in events.drain(..) {
            if !sink.send(e) {
                return;
            }
        }
    }
}

/// How long the terminal must be quiet before a drain ends, and the most a drain waits.
const QUIET: Duration = Duration::from_millis(120);
const DRAIN_AT_MOST: Duration = Duration::from_secs(3);

impl Reader {
    /// From now on drops everything the terminal sends, waits until it has been quiet for
    /// a moment (a paste still arriving is read to its end), then flushes the terminal's
    /// input queue. Called before every exit and re-exec.
    pub fn drain(&self) {
        self.shared.discard.store(true, Ordering::SeqCst);
        let started = Instant::now();
        while started.elapsed() < DRAIN_AT_MOST {
            let last = self.shared.last_byte.load(Ordering::SeqCst);
            let quiet = elapsed_ms(self.shared.start).saturating_sub(last);
            if quiet >= QUIET.as_millis() as u64 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        flush_queue();
    }
}

/// Drains the terminal without the reader thread (before it starts, after a re-exec: the
/// tail of what was typed or pasted before the lock is not the passphrase).
pub fn drain_now() {
    let mut buf = Zeroizing::new(vec![0u8; 1 << 16]);
    let started = Instant::now();
    while started.elapsed() < DRAIN_AT_MOST {
        match wait(QUIET.as_millis() as i32) {
            Some(true) => match read_some(&mut buf) {
                Some(n) => buf[..n].zeroize(),
                None => break,
            },
            _ => break,
        }
    }
    flush_queue();
}

/// Discards what the terminal received and nobody read yet.
fn flush_queue() {
    // SAFETY: tcflush on stdin; harmless when it is not a terminal.
    unsafe {
        libc::tcflush(0, libc::TCIFLUSH);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&[u8]]) -> Vec<Event> {
        let mut p = Parser::default();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out);
        }
        p.flush(&mut out);
        out
    }

    fn k(code: KeyCode) -> Event {
        key(code, KeyModifiers::NONE)
    }

    #[test]
    fn keys_and_sequences() {
        assert_eq!(
            events(&[b"ab\r\x7f\t\x1b[A\x1b[B\x1bOP\x1b[5~\x1b[6~\x1b[H\x1b[4~\x1b[Z"]),
            vec![
                k(KeyCode::Char('a')),
                k(KeyCode::Char('b')),
                k(KeyCode::Enter),
                k(KeyCode::Backspace),
                k(KeyCode::Tab),
                k(KeyCode::Up),
                k(KeyCode::Down),
                k(KeyCode::F(1)),
                k(KeyCode::PageUp),
                k(KeyCode::PageDown),
                k(KeyCode::Home),
                k(KeyCode::End),
                key(KeyCode::BackTab, KeyModifiers::SHIFT),
            ]
        );
        assert_eq!(
            events(&[b"\x13\x0c\x1b[1;5C\x1b[12~"]),
            vec![
                key(KeyCode::Char('s'), KeyModifiers::CONTROL),
                key(KeyCode::Char('l'), KeyModifiers::CONTROL),
                key(KeyCode::Right, KeyModifiers::CONTROL),
                k(KeyCode::F(2)),
            ]
        );
        // A lone Esc, and a sequence split over two reads.
        assert_eq!(events(&[b"\x1b"]), vec![k(KeyCode::Esc)]);
        assert_eq!(events(&[b"\x1b[", b"A"]), vec![k(KeyCode::Up)]);
        // UTF-8 split over reads.
        let ij = "Ĳsselmeer é".as_bytes();
        assert_eq!(
            events(&[&ij[..1], &ij[1..]]),
            "Ĳsselmeer é"
                .chars()
                .map(|c| k(KeyCode::Char(c)))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            events(&[b"\x1bx"]),
            vec![key(KeyCode::Char('x'), KeyModifiers::ALT)]
        );
    }

    #[test]
    fn a_paste_of_any_length_arrives_whole_in_any_chunks() {
        let text: String = (0..100_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect::<String>()
            + "\nregel twee é\x1b[Dniet een toets";
        let mut bytes = PASTE_START.to_vec();
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(PASTE_END);
        bytes.extend_from_slice(b"x");
        for chunk in [1, 5, 6, 7, 1000, 4096, 1 << 20] {
            let chunks: Vec<&[u8]> = bytes.chunks(chunk).collect();
            let out = events(&chunks);
            assert_eq!(out.len(), 2, "chunks of {chunk}");
            assert_eq!(
                out[0],
                Event::Paste(Zeroizing::new(text.clone()), false),
                "chunks of {chunk}"
            );
            assert_eq!(out[1], k(KeyCode::Char('x')));
        }
    }

    #[test]
    fn an_overlong_paste_is_cut_and_the_keys_after_it_still_come() {
        let mut bytes = PASTE_START.to_vec();
        bytes.extend(std::iter::repeat_n(b'a', MAX_PASTE + 10));
        bytes.extend_from_slice(PASTE_END);
        bytes.extend_from_slice(b"q");
        for chunk in [4096, 1 << 16, 7] {
            let chunks: Vec<&[u8]> = bytes.chunks(chunk).collect();
            let out = events(&chunks);
            let Event::Paste(text, cut) = &out[0] else {
                panic!("no paste")
            };
            assert!(*cut && text.len() == MAX_PASTE);
            assert!(text.bytes().all(|b| b == b'a'), "marker bytes leaked in");
            assert_eq!(out[1..], [k(KeyCode::Char('q'))], "chunks of {chunk}");
        }
    }

    #[test]
    fn a_paste_whose_end_never_comes_is_given_on_a_pause() {
        let out = events(&[b"\x1b[200~half"]);
        assert_eq!(
            out,
            vec![Event::Paste(Zeroizing::new("half".into()), false)]
        );
    }
}
