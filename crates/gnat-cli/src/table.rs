//! Tables: box-drawn tables with an optional title (`nats … ls`, history), the aligned
//! `Label: value` blocks natscli prints for `info` commands ([`Columns`]), and escaping values
//! for a cell.

use std::fmt::Write as _;

/// Column alignment in a [`Table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    /// Padded on the right.
    Left,
    /// Padded on the left (numbers).
    Right,
}

/// A table drawn with rounded box characters, with an optional centred title:
///
/// ```text
/// ╭────────────────╮
/// │     Title      │
/// ├─────┬──────────┤
/// │ Key │ Revision │
/// ├─────┼──────────┤
/// │ a   │        1 │
/// ╰─────┴──────────╯
/// ```
#[derive(Debug, Clone)]
pub(crate) struct Table {
    title: Option<String>,
    headers: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers, all left-aligned.
    pub(crate) fn new(headers: &[&str]) -> Table {
        Table {
            title: None,
            headers: headers.iter().map(|h| h.to_string()).collect(),
            align: vec![Align::Left; headers.len()],
            rows: Vec::new(),
        }
    }

    /// Sets the title.
    pub(crate) fn title(mut self, title: impl Into<String>) -> Table {
        self.title = Some(title.into());
        self
    }

    /// Sets the alignment of column `column`.
    pub(crate) fn align(mut self, column: usize, align: Align) -> Table {
        if let Some(a) = self.align.get_mut(column) {
            *a = align;
        }
        self
    }

    /// Adds a row (missing cells are empty, extra ones are ignored).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Draws the table; every line ends with a newline.
    pub(crate) fn render(&self) -> String {
        let n = self.headers.len();
        let cell = |row: &[String], i: usize| row.get(i).cloned().unwrap_or_default();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, w) in widths.iter_mut().enumerate() {
                *w = (*w).max(width(&cell(row, i)));
            }
        }
        let inner = |widths: &[usize]| widths.iter().map(|w| w + 2).sum::<usize>() + n - 1;
        if let (Some(title), Some(last)) = (&self.title, n.checked_sub(1)) {
            let need = width(title) + 2;
            let have = inner(&widths);
            if need > have {
                widths[last] += need - have;
            }
        }
        let rule = |left: char, mid: char, right: char| {
            let mut s = String::new();
            s.push(left);
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    s.push(mid);
                }
                s.extend(std::iter::repeat_n('─', w + 2));
            }
            s.push(right);
            s.push('\n');
            s
        };
        let line = |cells: &[String]| {
            let mut s = String::from("│");
            for (i, w) in widths.iter().enumerate() {
                let text = cell(cells, i);
                let pad = w - width(&text);
                match self.align.get(i) {
                    Some(Align::Right) => {
                        let _ = write!(s, " {}{text} │", " ".repeat(pad));
                    }
                    _ => {
                        let _ = write!(s, " {text}{} │", " ".repeat(pad));
                    }
                }
            }
            s.push('\n');
            s
        };
        let mut out = String::new();
        match &self.title {
            Some(title) => {
                let total = inner(&widths);
                out.push('╭');
                out.extend(std::iter::repeat_n('─', total));
                out.push_str("╮\n");
                let spare = total - width(title);
                let left = spare.div_ceil(2);
                let _ = writeln!(
                    out,
                    "│{}{title}{}│",
                    " ".repeat(left),
                    " ".repeat(spare - left)
                );
                out.push_str(&rule('├', '┬', '┤'));
            }
            None => out.push_str(&rule('╭', '┬', '╮')),
        }
        out.push_str(&line(&self.headers));
        if !self.rows.is_empty() {
            out.push_str(&rule('├', '┼', '┤'));
        }
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out.push_str(&rule('╰', '┴', '╯'));
        out
    }
}

/// One row of a [`Columns`] block.
#[derive(Debug, Clone)]
enum Row {
    Title(String),
    Field(String, String),
    Line(String),
}

/// The `Label: value` block natscli prints for `info` commands: a heading, then sections
/// (`Configuration:`) of fields whose labels are right-aligned on the colon:
///
/// ```text
/// Information for Stream ORDERS created 2025-02-07 13:03:56
///
///              Subjects: orders.*
///              Replicas: 1
///
/// State:
///
///              Messages: 0
/// ```
#[derive(Debug, Clone, Default)]
pub(crate) struct Columns {
    heading: Option<String>,
    rows: Vec<(usize, Row)>,
    indent: usize,
    /// The least width of the label column, colon excluded (the blocks `nats kv info` and
    /// `nats object info` print keep their labels in 21 columns).
    width: usize,
}

impl Columns {
    /// A block under `heading` (none when empty).
    pub(crate) fn new(heading: impl Into<String>) -> Columns {
        let heading = heading.into();
        Columns {
            heading: (!heading.is_empty()).then_some(heading),
            ..Columns::default()
        }
    }

    /// Keeps the labels right-aligned in at least `width` columns.
    pub(crate) fn label_width(&mut self, width: usize) -> &mut Columns {
        self.width = width;
        self
    }

    /// Indents what follows by `n` spaces.
    pub(crate) fn indent(&mut self, n: usize) -> &mut Columns {
        self.indent = n;
        self
    }

    /// Starts a section (`Title:`).
    pub(crate) fn section(&mut self, title: impl Into<String>) -> &mut Columns {
        self.rows.push((self.indent, Row::Title(title.into())));
        self
    }

    /// Adds `label: value`.
    pub(crate) fn field(&mut self, label: &str, value: impl ToString) -> &mut Columns {
        self.rows.push((
            self.indent,
            Row::Field(label.to_string(), value.to_string()),
        ));
        self
    }

    /// Adds `label: value` when `value` is not empty.
    pub(crate) fn field_if_some(&mut self, label: &str, value: Option<&str>) -> &mut Columns {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.field(label, v);
        }
        self
    }

    /// Adds a free line of text.
    pub(crate) fn line(&mut self, text: impl Into<String>) -> &mut Columns {
        self.rows.push((self.indent, Row::Line(text.into())));
        self
    }

    /// Draws the block; every line ends with a newline.
    pub(crate) fn render(&self) -> String {
        let longest = self
            .rows
            .iter()
            .filter_map(|(_, r)| match r {
                Row::Field(label, _) => Some(width(label)),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let column = (longest + 2).max(self.width);
        let mut out = String::new();
        if let Some(h) = &self.heading {
            let _ = writeln!(out, "{h}\n");
        }
        let mut prev: Option<&Row> = None;
        let mut prev_empty = false;
        for (i, (indent, row)) in self.rows.iter().enumerate() {
            let pad = " ".repeat(*indent);
            match row {
                Row::Title(t) => {
                    let after_text = matches!(prev, Some(Row::Line(_))) && !prev_empty;
                    if (i != 0 && !matches!(prev, Some(Row::Title(_) | Row::Line(_)))) || after_text
                    {
                        out.push('\n');
                    }
                    let colon = if t.ends_with(':') { "" } else { ":" };
                    let _ = writeln!(out, "{pad}{t}{colon}\n");
                    prev_empty = false;
                }
                Row::Field(label, value) => {
                    let spaces = " ".repeat(column.saturating_sub(width(label)));
                    if label.is_empty() {
                        let _ = writeln!(out, "{pad}{spaces} {value}");
                    } else {
                        let _ = writeln!(out, "{pad}{spaces}{label}: {value}");
                    }
                    prev_empty = false;
                }
                Row::Line(text) => {
                    if matches!(prev, Some(Row::Title(_))) && text.is_empty() {
                        continue;
                    }
                    let _ = writeln!(out, "{pad}{text}");
                    prev_empty = text.is_empty();
                }
            }
            prev = Some(row);
        }
        out
    }
}

/// `file` → `File`: the first letter in upper case (policy and storage names in info blocks).
pub(crate) fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Display width of a cell (characters; cells are escaped, so no control characters).
fn width(s: &str) -> usize {
    s.chars().count()
}

/// A value for a table cell or a watch line: UTF-8 (lossy), control characters escaped,
/// at most `max` characters (then `...`).
pub(crate) fn value_cell(value: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n >= max {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_grow_for_long_titles_and_have_no_title_form() {
        let mut t = Table::new(&["A", "B"]).title("a rather long title");
        t.row(vec!["1".into()]);
        let s = t.render();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[1], "│ a rather long title │");
        assert!(lines.iter().all(|l| l.chars().count() == 23), "{s}");
        let mut t = Table::new(&["Bucket", "Values"]).align(1, Align::Right);
        t.row(vec!["b".into(), "7".into()]);
        assert_eq!(
            t.render(),
            "╭────────┬────────╮\n│ Bucket │ Values │\n├────────┼────────┤\n│ b      │      7 │\n╰────────┴────────╯\n"
        );
        let empty = Table::new(&["X"]).render();
        assert_eq!(empty, "╭───╮\n│ X │\n╰───╯\n");
    }

    #[test]
    fn cells_are_escaped_and_cut() {
        assert_eq!(value_cell(b"a\nb\tc", 40), "a\\nb\\tc");
        assert_eq!(value_cell(b"abcdef", 3), "abc...");
        assert_eq!(value_cell(&[0xff, b'a'], 40), "\u{fffd}a");
    }

    #[test]
    fn fixed_label_width_and_capitals() {
        let mut c = Columns::new("");
        c.label_width(21).field("Bucket Name", "B");
        assert_eq!(c.render(), "          Bucket Name: B\n");
        assert_eq!(capitalized("memory"), "Memory");
        assert_eq!(capitalized(""), "");
    }

    #[test]
    fn columns_align_labels_and_separate_sections() {
        let mut c = Columns::new("Information for Stream S");
        c.field("Subjects", "a.>").field("Replicas", 1);
        c.section("State");
        c.field("Messages", 0).field("Active Consumers", 2);
        c.line("").line("   a note");
        c.section("Limits:");
        let want = "\
Information for Stream S

          Subjects: a.>
          Replicas: 1

State:

          Messages: 0
  Active Consumers: 2

   a note

Limits:

";
        assert_eq!(c.render(), want);
    }
}
