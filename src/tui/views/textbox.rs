//! A text box that wraps at words: the note editor's text. Each paragraph's line breaks are
//! kept until it changes, so a keypress costs the paragraph it is in, not the whole note
//! (typing into a note of 100,000 characters stays within a frame; a paste of any length
//! goes in at once).

use std::cell::{Cell, RefCell};

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthChar;

/// Where a paragraph breaks into lines at a width: byte ranges.
type Breaks = Vec<(usize, usize)>;

/// A multi-line text with a cursor.
#[derive(Default)]
pub struct TextBox {
    paragraphs: Vec<String>,
    /// The cursor: paragraph, and byte offset in it (on a character boundary).
    row: usize,
    at: usize,
    /// The column Up and Down keep to.
    goal: Option<usize>,
    /// The first line shown, and the lines and columns there were room for.
    top: Cell<usize>,
    page: Cell<usize>,
    width: Cell<usize>,
    /// Each paragraph's breaks and the width they are for.
    cache: RefCell<Vec<Option<(usize, Breaks)>>>,
}

fn char_width(c: char) -> usize {
    if c.is_ascii() {
        usize::from(!c.is_ascii_control())
    } else {
        c.width().unwrap_or(0)
    }
}

/// Greedy word wrap of one paragraph to `width` columns: break after the last space before
/// the word that does not fit (spaces hang past the edge), or inside a word longer than a
/// line.
fn breaks(text: &str, width: usize) -> Breaks {
    let width = width.max(1);
    let mut out = Vec::new();
    let (mut start, mut used) = (0, 0);
    // After the last space on this line: (byte index, width up to there).
    let mut space: Option<(usize, usize)> = None;
    for (i, c) in text.char_indices() {
        let w = char_width(c);
        // A space may hang past the edge: the next line starts after it.
        if used + w > width && i > start && c != ' ' {
            match space.filter(|(b, _)| *b > start) {
                Some((b, bw)) => {
                    out.push((start, b));
                    start = b;
                    used -= bw;
                }
                None => {
                    out.push((start, i));
                    start = i;
                    used = 0;
                }
            }
            space = None;
        }
        used += w;
        if c == ' ' {
            space = Some((i + 1, used));
        }
    }
    out.push((start, text.len()));
    out
}

fn text_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

impl TextBox {
    /// A box holding `text`, the cursor at its end.
    pub fn new(text: &str) -> TextBox {
        let paragraphs: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let row = paragraphs.len() - 1;
        let at = paragraphs[row].len();
        TextBox {
            cache: RefCell::new(vec![None; paragraphs.len()]),
            paragraphs,
            row,
            at,
            ..TextBox::default()
        }
    }

    /// The text, paragraphs joined by line breaks.
    pub fn text(&self) -> String {
        self.paragraphs.join("\n")
    }

    /// Whether nothing but white space was typed.
    pub fn is_blank(&self) -> bool {
        self.paragraphs.iter().all(|p| p.trim().is_empty())
    }

    fn changed(&mut self, row: usize) {
        self.goal = None;
        if let Some(c) = self.cache.get_mut().get_mut(row) {
            *c = None;
        }
    }

    /// Inserts text at the cursor (a paste: line breaks start new paragraphs).
    pub fn insert(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let mut parts = text.split('\n');
        let first = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        let p = &mut self.paragraphs[self.row];
        if rest.is_empty() {
            p.insert_str(self.at, first);
            self.at += first.len();
            self.changed(self.row);
            return;
        }
        let tail = p.split_off(self.at);
        p.push_str(first);
        self.changed(self.row);
        let cache = self.cache.get_mut();
        for (k, line) in rest.iter().enumerate() {
            self.paragraphs.insert(self.row + 1 + k, (*line).to_owned());
            cache.insert(self.row + 1 + k, None);
        }
        self.row += rest.len();
        self.at = self.paragraphs[self.row].len();
        self.paragraphs[self.row].push_str(&tail);
    }

    fn backspace(&mut self) {
        if self.at > 0 {
            let p = &mut self.paragraphs[self.row];
            let prev = p[..self.at].char_indices().last().map_or(0, |(i, _)| i);
            p.replace_range(prev..self.at, "");
            self.at = prev;
            self.changed(self.row);
        } else if self.row > 0 {
            let p = self.paragraphs.remove(self.row);
            self.cache.get_mut().remove(self.row);
            self.row -= 1;
            self.at = self.paragraphs[self.row].len();
            self.paragraphs[self.row].push_str(&p);
            self.changed(self.row);
        }
    }

    fn delete(&mut self) {
        let len = self.paragraphs[self.row].len();
        if self.at < len {
            let p = &mut self.paragraphs[self.row];
            let next = p[self.at..].chars().next().map_or(0, char::len_utf8);
            p.replace_range(self.at..self.at + next, "");
            self.changed(self.row);
        } else if self.row + 1 < self.paragraphs.len() {
            let p = self.paragraphs.remove(self.row + 1);
            self.cache.get_mut().remove(self.row + 1);
            self.paragraphs[self.row].push_str(&p);
            self.changed(self.row);
        }
    }

    fn left(&mut self) {
        if self.at > 0 {
            let p = &self.paragraphs[self.row];
            self.at = p[..self.at].char_indices().last().map_or(0, |(i, _)| i);
        } else if self.row > 0 {
            self.row -= 1;
            self.at = self.paragraphs[self.row].len();
        }
        self.goal = None;
    }

    fn right(&mut self) {
        let p = &self.paragraphs[self.row];
        if self.at < p.len() {
            self.at += p[self.at..].chars().next().map_or(0, char::len_utf8);
        } else if self.row + 1 < self.paragraphs.len() {
            self.row += 1;
            self.at = 0;
        }
        self.goal = None;
    }

    /// The breaks of a paragraph at `width`, from the cache when it still holds.
    fn wrapped(&self, row: usize, width: usize) -> Breaks {
        let mut cache = self.cache.borrow_mut();
        if cache.len() != self.paragraphs.len() {
            *cache = vec![None; self.paragraphs.len()];
        }
        match &cache[row] {
            Some((w, b)) if *w == width => b.clone(),
            _ => {
                let b = breaks(&self.paragraphs[row], width);
                cache[row] = Some((width, b.clone()));
                b
            }
        }
    }

    /// The line (of its paragraph) the cursor is on, and its column.
    fn cursor_line(&self, width: usize) -> (usize, usize) {
        let b = self.wrapped(self.row, width);
        let line = b
            .iter()
            .position(|(s, e)| {
                self.at >= *s && (self.at < *e || *e == self.paragraphs[self.row].len())
            })
            .unwrap_or(b.len() - 1);
        let x = text_width(&self.paragraphs[self.row][b[line].0..self.at]);
        (line, x)
    }

    /// Puts the cursor on line `line` of paragraph `row` at column `x` (or its end).
    fn place(&mut self, row: usize, line: usize, x: usize, width: usize) {
        let b = self.wrapped(row, width);
        let (s, e) = b[line.min(b.len() - 1)];
        let p = &self.paragraphs[row];
        let mut at = s;
        let mut used = 0;
        for (i, c) in p[s..e].char_indices() {
            if used + char_width(c) > x {
                break;
            }
            used += char_width(c);
            at = s + i + c.len_utf8();
        }
        // A line that ends where it wraps: the cursor stays before the break.
        if at == e && e < p.len() && line + 1 < b.len() {
            at = p[s..e].char_indices().last().map_or(s, |(i, _)| s + i);
        }
        self.row = row;
        self.at = at;
    }

    fn vertical(&mut self, lines: isize, width: usize) {
        let (mut line, x) = self.cursor_line(width);
        let goal = *self.goal.get_or_insert(x);
        let mut row = self.row;
        let mut left = lines;
        while left != 0 {
            if left < 0 {
                if line > 0 {
                    line -= 1;
                } else if row > 0 {
                    row -= 1;
                    line = self.wrapped(row, width).len() - 1;
                } else {
                    break;
                }
                left += 1;
            } else {
                if line + 1 < self.wrapped(row, width).len() {
                    line += 1;
                } else if row + 1 < self.paragraphs.len() {
                    row += 1;
                    line = 0;
                } else {
                    break;
                }
                left -= 1;
            }
        }
        self.place(row, line, goal, width);
        self.goal = Some(goal);
    }

    /// Handles an editing key; false when the key is not one.
    pub fn key(&mut self, key: KeyEvent) -> bool {
        let width = match self.width.get() {
            0 => 80,
            w => w,
        };
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let page = self.page.get().max(1) as isize;
        match key.code {
            KeyCode::Char(c) if !ctrl => {
                let mut buf = [0u8; 4];
                self.insert(c.encode_utf8(&mut buf));
            }
            KeyCode::Enter => self.insert("\n"),
            KeyCode::Backspace => self.backspace(),
            KeyCode::Delete => self.delete(),
            KeyCode::Left => self.left(),
            KeyCode::Right => self.right(),
            KeyCode::Up => self.vertical(-1, width),
            KeyCode::Down => self.vertical(1, width),
            KeyCode::PageUp => self.vertical(-page, width),
            KeyCode::PageDown => self.vertical(page, width),
            KeyCode::Home if ctrl => (self.row, self.at) = (0, 0),
            KeyCode::End if ctrl => {
                self.row = self.paragraphs.len() - 1;
                self.at = self.paragraphs[self.row].len();
            }
            KeyCode::Home => {
                let (line, _) = self.cursor_line(width);
                self.place(self.row, line, 0, width);
            }
            KeyCode::End => {
                let (line, _) = self.cursor_line(width);
                self.place(self.row, line, usize::MAX, width);
            }
            _ => return false,
        }
        true
    }

    /// Draws the text in `area`, the cursor there when `focused`; `placeholder` when empty.
    pub fn draw(&self, frame: &mut Frame, area: Rect, focused: bool, placeholder: &str) {
        let (w, h) = (area.width as usize, area.height as usize);
        self.page.set(h.max(1));
        self.width.set(w);
        if w == 0 || h == 0 {
            return;
        }
        if self.paragraphs.len() == 1 && self.paragraphs[0].is_empty() {
            frame.render_widget(
                Paragraph::new(Line::from(Span::styled(
                    placeholder.to_owned(),
                    super::dim(),
                ))),
                area,
            );
            if focused {
                frame.set_cursor_position(Position::new(area.x, area.y));
            }
            return;
        }
        // The cursor's line counted from the top of the text, then the view kept around it.
        let (line, x) = self.cursor_line(w);
        let before: usize = (0..self.row).map(|r| self.wrapped(r, w).len()).sum();
        let cursor = before + line;
        let mut top = self.top.get();
        if cursor < top {
            top = cursor;
        } else if cursor >= top + h {
            top = cursor + 1 - h;
        }
        self.top.set(top);
        let mut lines = Vec::with_capacity(h);
        let mut seen = 0;
        for (r, p) in self.paragraphs.iter().enumerate() {
            if lines.len() >= h {
                break;
            }
            let b = self.wrapped(r, w);
            if seen + b.len() <= top {
                seen += b.len();
                continue;
            }
            for (s, e) in b {
                if seen >= top && lines.len() < h {
                    lines.push(Line::from(Span::styled(
                        p[s..e].to_owned(),
                        Style::default(),
                    )));
                }
                seen += 1;
            }
        }
        frame.render_widget(Paragraph::new(lines), area);
        if focused {
            let cx = area.x + (x.min(w.saturating_sub(1))) as u16;
            let cy = area.y + (cursor - top) as u16;
            frame.set_cursor_position(Position::new(cx, cy));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn words_wrap_and_long_words_break() {
        let t = "de kat zat op de mat";
        let b = breaks(t, 9);
        let lines: Vec<&str> = b.iter().map(|(s, e)| &t[*s..*e]).collect();
        assert_eq!(
            lines,
            vec!["de kat ", "zat op de ", "mat"],
            "a space may hang"
        );
        let t = "abcdefghij";
        let lines: Vec<&str> = breaks(t, 4).iter().map(|(s, e)| &t[*s..*e]).collect();
        assert_eq!(lines, vec!["abcd", "efgh", "ij"]);
        assert_eq!(breaks("", 10), vec![(0, 0)]);
    }

    #[test]
    fn editing_moves_and_joins() {
        let mut b = TextBox::new("");
        for c in "één twee".chars() {
            b.key(k(KeyCode::Char(c)));
        }
        b.key(k(KeyCode::Enter));
        b.insert("drie\nvier");
        assert_eq!(b.text(), "één twee\ndrie\nvier");
        b.key(k(KeyCode::Up));
        b.key(k(KeyCode::Home));
        b.key(k(KeyCode::Backspace));
        assert_eq!(b.text(), "één tweedrie\nvier");
        b.key(k(KeyCode::Left));
        b.key(k(KeyCode::Delete));
        assert_eq!(b.text(), "één twedrie\nvier");
        b.key(k(KeyCode::End));
        b.key(k(KeyCode::Delete));
        assert_eq!(b.text(), "één twedrievier");
        assert!(!b.is_blank());
    }

    #[test]
    fn up_and_down_follow_the_wrapped_lines() {
        let mut b = TextBox::new("aaaa bbbb cccc");
        // Width 5: "aaaa ", "bbbb ", "cccc"; the cursor is at the end.
        b.width.set(5);
        b.key(k(KeyCode::Up));
        b.key(k(KeyCode::Char('X')));
        assert_eq!(b.text(), "aaaa bbbbX cccc");
        b.key(k(KeyCode::PageUp));
        b.key(k(KeyCode::Home));
        b.key(k(KeyCode::Char('Y')));
        assert_eq!(b.text(), "Yaaaa bbbbX cccc");
    }
}
