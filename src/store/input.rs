//! Reading and validating the list of customer IDs.
//!
//! Two shapes are accepted: plain text (one ID per line, `#` comments and
//! blank lines skipped) and CSV whose header has a `customer_id` column, so a
//! failed file can be fed straight back. IDs are stored in one string buffer
//! with an offset table ([`IdList`]), about 4 bytes of overhead per ID, and
//! deduplicated by sorting offsets, not by copying every string into a set.

use std::fmt;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::PathBuf;

use crate::error::UsageError;

/// Where the customer IDs come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdin,
    File(PathBuf),
    /// IDs given in a pipeline's config (`customer_ids`), one per line.
    Inline(String),
    /// The platform's contact list (`--all-contacts`): fetched, not read.
    Contacts,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stdin => f.write_str("<stdin>"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Inline(_) => f.write_str("the config's customer_ids"),
            Source::Contacts => f.write_str("the contact list"),
        }
    }
}

/// Longest accepted ID, in bytes.
pub const MAX_ID_LEN: usize = 256;
/// How many bad lines an input error lists.
const MAX_REPORTED: usize = 10;
/// Longest input line, in bytes: a CSV line may hold other columns, but a
/// longer one (`--ids /dev/zero`) is not a list of IDs, and reading it
/// whole would take all memory.
pub const MAX_LINE: usize = 64 * 1024;
/// Most bytes of distinct IDs (the offsets are 32-bit): about 16 million
/// IDs of 256 bytes, far more than a run fetches in a day.
const MAX_ID_BYTES: usize = u32::MAX as usize;

/// Customer IDs in input order, duplicates removed, stored compactly.
#[derive(Debug, Default, Clone)]
pub struct IdList {
    buf: String,
    ends: Vec<u32>,
    /// IDs that were dropped as repeats of an earlier line.
    pub duplicates: usize,
}

impl IdList {
    /// Build from IDs in order (they are not validated here).
    pub fn from_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        let mut list = IdList::default();
        for id in ids {
            assert!(list.push(id), "an ID list in memory fits the offsets");
        }
        list.dedup();
        list
    }

    /// Append an ID; `false` when the list is full (see [`MAX_ID_BYTES`]).
    fn push(&mut self, id: &str) -> bool {
        if self.buf.len() + id.len() > MAX_ID_BYTES {
            return false;
        }
        self.buf.push_str(id);
        self.ends.push(self.buf.len() as u32);
        true
    }

    /// Number of distinct IDs.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`-th distinct ID in input order.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.buf[start..self.ends[i] as usize]
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Keep only the IDs `keep` accepts, in order (compacting in place).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let marks: Vec<bool> = (0..self.len()).map(|i| !keep(self.get(i))).collect();
        self.remove_marked(&marks);
    }

    /// Drop later repeats, keeping first positions, without a second copy of
    /// the strings: sort indices by (id, position), mark repeats, compact.
    fn dedup(&mut self) {
        let n = self.ends.len();
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_unstable_by(|&a, &b| {
            self.get(a as usize)
                .cmp(self.get(b as usize))
                .then(a.cmp(&b))
        });
        let mut repeat = vec![false; n];
        for w in order.windows(2) {
            if self.get(w[0] as usize) == self.get(w[1] as usize) {
                repeat[w[1] as usize] = true;
            }
        }
        drop(order);
        self.duplicates += self.remove_marked(&repeat);
    }

    /// Remove the IDs whose mark is set, moving the rest down in place.
    /// Returns how many were removed.
    fn remove_marked(&mut self, marks: &[bool]) -> usize {
        let removed = marks.iter().filter(|&&m| m).count();
        if removed == 0 {
            return 0;
        }
        let mut bytes = std::mem::take(&mut self.buf).into_bytes();
        let (mut read, mut write, mut kept) = (0usize, 0usize, 0usize);
        for (i, &marked) in marks.iter().enumerate() {
            let end = self.ends[i] as usize;
            if !marked {
                bytes.copy_within(read..end, write);
                write += end - read;
                self.ends[kept] = write as u32;
                kept += 1;
            }
            read = end;
        }
        bytes.truncate(write);
        self.ends.truncate(kept);
        self.buf = String::from_utf8(bytes).expect("whole IDs were moved");
        removed
    }
}

/// Why an ID is refused, or `None` when it is fine.
pub fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("empty customer ID".into());
    }
    if id.len() > MAX_ID_LEN {
        return Some(format!(
            "customer ID is {} bytes long, over the {MAX_ID_LEN}-byte limit",
            id.len()
        ));
    }
    for c in id.chars() {
        let what = if c.is_whitespace() {
            "whitespace"
        } else if c.is_control() {
            "a control character"
        } else if c == '"' || c == '\'' {
            "a quote"
        } else if c == ',' {
            "a comma"
        } else {
            continue;
        };
        return Some(format!(
            "customer ID {:?} holds {what} ({c:?})",
            shorten(id)
        ));
    }
    None
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 60 {
        let head: String = s.chars().take(57).collect();
        format!("{head}...")
    } else {
        s.to_string()
    }
}

/// Read the IDs of `source`, failing with every problem found (the first ten
/// listed with their line numbers).
pub fn read_ids(source: &Source) -> Result<IdList, UsageError> {
    let name = source.to_string();
    match source {
        Source::Stdin => read_from(std::io::stdin(), &name),
        Source::Inline(text) => read_from(Cursor::new(text.as_bytes()), &name),
        Source::Contacts => Err(UsageError::invalid(
            "the contact list is fetched from the platform, not read from a file",
        )),
        Source::File(path) => {
            let file = std::fs::File::open(path).map_err(|source| UsageError::Read {
                path: path.clone(),
                source,
            })?;
            read_from(file, &name)
        }
    }
}

/// Refuse a list with no ID in it (an empty file, or only comments and
/// blank lines) unless `allow_empty`: exported, it would be a run of
/// nothing that moves a `--state` watermark past its window.
pub fn require_ids(list: &IdList, source: &Source, allow_empty: bool) -> Result<(), UsageError> {
    if !list.is_empty() || allow_empty {
        return Ok(());
    }
    let (what, flag) = match source {
        Source::Inline(_) => (
            "the config's customer_ids is an empty list",
            "allow_empty: true",
        ),
        _ => (
            "holds no customer ID (it is empty, or holds only comments and blank lines)",
            "--allow-empty",
        ),
    };
    let name = match source {
        Source::Inline(_) => String::new(),
        other => format!("{other}: "),
    };
    Err(UsageError::invalid(format!(
        "{name}{what}. Nothing was fetched and the --state watermark, if any, stays where it \
         was. If an empty list is expected, pass {flag}"
    )))
}

/// A reader that fails once a line runs past [`MAX_LINE`] bytes, naming
/// it: whatever the input, the reader above it never holds more than one
/// bounded line.
struct LineBounded<R> {
    inner: R,
    /// Bytes since the last newline.
    run: usize,
    /// Newlines seen.
    lines: u64,
}

impl<R> LineBounded<R> {
    fn new(inner: R) -> Self {
        LineBounded {
            inner,
            run: 0,
            lines: 0,
        }
    }
}

impl<R: Read> Read for LineBounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = &buf[..n];
        match memchr::memrchr(b'\n', got) {
            Some(last) => {
                self.lines += memchr::memchr_iter(b'\n', got).count() as u64;
                self.run = n - last - 1;
            }
            None => self.run += n,
        }
        if self.run > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "line {} is longer than {} KiB: this is not a list of customer IDs",
                    self.lines + 1,
                    MAX_LINE / 1024
                ),
            ));
        }
        Ok(n)
    }
}

/// A reader that turns each CRLF into LF: the csv crate counts the lines
/// of a CRLF file one short after some records, so its line numbers
/// would point one line too early. A lone CR is kept.
struct CrlfToLf<R> {
    inner: R,
    /// Bytes read and converted, not yet handed out (from `pos`).
    out: Vec<u8>,
    pos: usize,
    /// A CR at the end of the last chunk, not yet known to precede an LF.
    held_cr: bool,
}

impl<R> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        CrlfToLf {
            inner,
            out: Vec::with_capacity(1 << 16),
            pos: 0,
            held_cr: false,
        }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            let mut chunk = [0u8; 8192];
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                if !std::mem::take(&mut self.held_cr) {
                    return Ok(0);
                }
                self.out.push(b'\r');
                break;
            }
            for &b in &chunk[..n] {
                if std::mem::take(&mut self.held_cr) && b != b'\n' {
                    self.out.push(b'\r');
                }
                if b == b'\r' {
                    self.held_cr = true;
                } else {
                    self.out.push(b);
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The error for an ID list past [`MAX_ID_BYTES`].
fn too_many(name: &str) -> UsageError {
    UsageError::invalid(format!(
        "{name}: more than 4 GiB of distinct customer IDs: split the list into several runs \
         (--shard K/N)"
    ))
}

/// Collects bad lines while reading.
struct Problems {
    name: String,
    count: usize,
    listed: Vec<String>,
}

impl Problems {
    fn add(&mut self, line: u64, why: String) {
        self.count += 1;
        if self.listed.len() < MAX_REPORTED {
            self.listed.push(format!("  line {line}: {why}"));
        }
    }

    fn into_result(self, list: IdList) -> Result<IdList, UsageError> {
        if self.count == 0 {
            return Ok(list);
        }
        let more = if self.count > self.listed.len() {
            format!(" (the first {} shown)", self.listed.len())
        } else {
            String::new()
        };
        Err(UsageError::BadIds {
            path: self.name,
            count: self.count,
            more,
            lines: self.listed.join("\n"),
        })
    }
}

/// Read IDs from any reader, a line at a time (each bounded by
/// [`MAX_LINE`]); `name` is used in error messages.
pub fn read_from<R: Read>(reader: R, name: &str) -> Result<IdList, UsageError> {
    let mut reader = BufReader::with_capacity(1 << 16, LineBounded::new(reader));
    let io_err = |e: std::io::Error| UsageError::invalid(format!("cannot read {name}: {e}"));
    let mut problems = Problems {
        name: name.to_string(),
        count: 0,
        listed: Vec::new(),
    };
    let mut first = Vec::new();
    reader.read_until(b'\n', &mut first).map_err(io_err)?;
    if first.starts_with("\u{feff}".as_bytes()) {
        first.drain(..3);
    }
    if first.starts_with(&[0xff, 0xfe]) || first.starts_with(&[0xfe, 0xff]) {
        return Err(UsageError::invalid(format!(
            "{name}: the file is UTF-16 (it starts with a UTF-16 byte order mark, as Excel's \
             and Notepad's \"Unicode\" text does); save it as UTF-8, or convert it: \
             iconv -f UTF-16 -t UTF-8 {name} > ids-utf8.txt"
        )));
    }
    let mut list = IdList::default();
    if is_csv_header(&first) {
        let reader = CrlfToLf::new(Cursor::new(first).chain(reader));
        read_csv(reader, &mut list, &mut problems)?;
    } else {
        let mut line = first;
        let mut number = 0u64;
        loop {
            if number > 0 {
                line.clear();
                reader.read_until(b'\n', &mut line).map_err(io_err)?;
            }
            if line.is_empty() {
                break;
            }
            number += 1;
            match std::str::from_utf8(&line) {
                Err(_) => problems.add(number, "not valid UTF-8".into()),
                Ok(text) => {
                    let id = text.trim();
                    if id.is_empty() || id.starts_with('#') {
                        continue;
                    }
                    match id_problem(id) {
                        Some(why) => problems.add(number, why),
                        None if !list.push(id) => return Err(too_many(name)),
                        None => {}
                    }
                }
            }
        }
    }
    list.dedup();
    problems.into_result(list)
}

/// Whether the first line is a CSV header: it names a `customer_id`
/// column (in any case: `Customer_ID`), or it holds a comma, which no ID
/// does.
fn is_csv_header(line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    let text = text.trim_end_matches(['\r', '\n']);
    text.contains(',') || text.split(',').any(is_id_column)
}

/// Whether a header field names the ID column.
fn is_id_column(field: &str) -> bool {
    field
        .trim()
        .trim_matches('"')
        .eq_ignore_ascii_case("customer_id")
}

fn read_csv<R: Read>(
    reader: R,
    list: &mut IdList,
    problems: &mut Problems,
) -> Result<(), UsageError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| UsageError::invalid(format!("{}: line 1: {e}", problems.name)))?;
    let column = match headers.iter().position(is_id_column) {
        Some(column) => column,
        None if headers.iter().any(|h| h.contains("customer_id")) => {
            return Err(UsageError::invalid(format!(
                "{}: line 1: the header names customer_id but no CSV column reads as it \
                 (quote a header field whole, or not at all)",
                problems.name
            )))
        }
        None => {
            let names: Vec<String> = headers
                .iter()
                .take(20)
                .map(|h| format!("{:?}", shorten(h.trim())))
                .collect();
            return Err(UsageError::invalid(format!(
                "{}: line 1 reads as a CSV header (it holds a comma) with no customer_id \
                 column; its columns are {}. Name the column of IDs customer_id, or give one \
                 ID per line",
                problems.name,
                names.join(", ")
            )));
        }
    };
    let mut record = csv::StringRecord::new();
    loop {
        let line = csv.position().line();
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                // Blank lines, and rows of nothing but commas (a
                // spreadsheet's empty rows), are skipped.
                if record.iter().all(|field| field.trim().is_empty()) {
                    continue;
                }
                let id = record.get(column).unwrap_or("").trim();
                match id_problem(id) {
                    Some(why) => problems.add(line, why),
                    None if !list.push(id) => return Err(too_many(&problems.name)),
                    None => {}
                }
            }
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                return Err(UsageError::invalid(format!(
                    "cannot read {}: {e}",
                    problems.name
                )));
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                let why = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
                    _ => format!("malformed CSV: {e}"),
                };
                problems.add(line, why);
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    break;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &[u8]) -> Result<IdList, UsageError> {
        read_from(text, "ids.txt")
    }

    #[test]
    fn an_endless_line_is_refused_naming_it() {
        let mut text = b"a1\nb2\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        let err = read(&text).unwrap_err().to_string();
        assert!(err.contains("line 3 is longer than 64 KiB"), "{err}");
        let mut csv = b"customer_id,note\na1,".to_vec();
        csv.extend(std::iter::repeat_n(b'y', 3 * MAX_LINE));
        let err = read(&csv).unwrap_err().to_string();
        assert!(err.contains("longer than 64 KiB"), "{err}");
        // A long line that ends in time is just a line.
        let mut ok = b"customer_id,note\na1,".to_vec();
        ok.extend(std::iter::repeat_n(b'z', MAX_LINE - 100));
        ok.extend(b"\nb2,x\n");
        assert_eq!(read(&ok).unwrap().len(), 2);
    }

    #[test]
    fn text_lines_are_trimmed_and_comments_skipped() {
        let list = read(b"\xef\xbb\xbfa1\r\n\n  # note\n  b2  \r\nc3").unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), ["a1", "b2", "c3"]);
    }

    #[test]
    fn duplicates_keep_the_first_position() {
        let list = read(b"b\na\nb\nc\na\nb\n").unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), ["b", "a", "c"]);
        assert_eq!(list.duplicates, 3);
    }

    #[test]
    fn csv_with_customer_id_column_is_read() {
        let text = "customer_id,error\nx1,\"HTTP 500, then\nmore\"\nx2,bad\n";
        let list = read(text.as_bytes()).unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), ["x1", "x2"]);
    }

    #[test]
    fn csv_header_with_a_space_before_a_quoted_name_does_not_panic() {
        let list = read(b"id, \"customer_id\"\n1, x1\n2, x2\n").unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), ["x1", "x2"]);
    }

    #[test]
    fn bad_lines_are_named_with_reasons() {
        let long = "x".repeat(257);
        let text = format!("ok\nhas space\n{long}\nq\"\nc,d\ne\u{7}\n");
        let err = read(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("ids.txt: 5 invalid"), "{err}");
        for needle in [
            "line 2: ",
            "whitespace",
            "line 3: ",
            "257 bytes",
            "line 4",
            "quote",
            "line 5",
            "comma",
            "line 6",
            "control",
        ] {
            assert!(err.contains(needle), "missing {needle:?} in {err}");
        }
    }

    #[test]
    fn only_ten_bad_lines_are_listed() {
        let text = "a b\n".repeat(25);
        let err = read(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("25 invalid"), "{err}");
        assert_eq!(err.matches("  line ").count(), 10);
    }

    #[test]
    fn a_header_in_any_case_is_never_an_id() {
        for header in [
            "customer_id",
            "Customer_ID",
            "CUSTOMER_ID",
            "\"Customer_Id\"",
        ] {
            let text = format!("{header}\r\nx1\r\nx2\r\n");
            let list = read(text.as_bytes()).unwrap();
            assert_eq!(list.iter().collect::<Vec<_>>(), ["x1", "x2"], "{header}");
        }
    }

    #[test]
    fn a_csv_without_the_column_names_the_columns_it_has() {
        let err = read(b"id,name\n1,a\n").unwrap_err().to_string();
        assert!(err.contains("no customer_id column"), "{err}");
        assert!(err.contains("\"id\", \"name\""), "{err}");
        assert!(!err.contains("holds a comma ("), "{err}");
    }

    #[test]
    fn rows_of_nothing_but_commas_are_skipped() {
        let list = read(b"customer_id,name\nx1,a\n,\n , ,\n\nx2,b\n,,\n").unwrap();
        assert_eq!(list.iter().collect::<Vec<_>>(), ["x1", "x2"]);
    }

    #[test]
    fn utf16_is_named_with_the_fix() {
        let mut text = vec![0xff, 0xfe];
        for unit in "customer_id\r\nx1\r\n".encode_utf16() {
            text.extend(unit.to_le_bytes());
        }
        let err = read(&text).unwrap_err().to_string();
        assert!(err.contains("UTF-16") && err.contains("iconv"), "{err}");
        let err = read(&[0xfe, 0xff, 0, b'a']).unwrap_err().to_string();
        assert!(err.contains("UTF-16"), "{err}");
    }

    /// Errors name the right line whatever the line ends, in both shapes.
    #[test]
    fn line_numbers_are_right_with_crlf() {
        for end in ["\n", "\r\n"] {
            let text = ["customer_id,note", "a1,x", "a2,y", "a3,z", "b c,w", ""].join(end);
            let err = read(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("line 5: "), "{end:?}: {err}");
            let text = ["a1", "a2", "", "a3", "b c", ""].join(end);
            let err = read(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("line 5: "), "{end:?}: {err}");
            let text = ["customer_id", "a1", "", "a3", "b\u{7}", ""].join(end);
            let err = read(text.as_bytes()).unwrap_err().to_string();
            assert!(err.contains("line 5: "), "{end:?}: {err}");
        }
    }

    #[test]
    fn crlf_becomes_lf_and_a_lone_cr_stays() {
        let mut out = String::new();
        CrlfToLf::new(&b"a\r\nb\rc\r\r\nd\r"[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "a\nb\rc\r\nd\r");
    }

    #[test]
    fn invalid_utf8_is_reported_not_panicked() {
        let err = read(b"ok\n\xff\xfe\n").unwrap_err().to_string();
        assert!(err.contains("line 2: not valid UTF-8"), "{err}");
    }
}
