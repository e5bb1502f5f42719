//! Reading a feed file: CSV (RFC 4180: quoted fields, quoted newlines, CRLF or LF), UTF-8 with
//! or without a byte-order mark, or Latin-1 where a field is not UTF-8. Streams one row at a
//! time, so memory does not grow with the file.

use super::FeedKind;
use std::io::Read;

/// More rows than this is not a county file (Los Angeles County has under 6 million voters).
pub const MAX_ROWS: u64 = 20_000_000;
/// A row longer than this is not a row of these formats.
const MAX_ROW_BYTES: usize = 16 * 1024;
/// How much of a bad value the error report keeps.
const MAX_VALUE_CHARS: usize = 200;

/// Why a file cannot be read at all; nothing of it is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty: it has no header row")]
    Empty,
    #[error("the header lacks the column(s) {}; the {} format has: {}", .missing.join(", "), .kind, .expected)]
    MissingColumns {
        missing: Vec<String>,
        kind: String,
        expected: String,
    },
    #[error("the header has column(s) the {} format does not: {}; is this the right kind of file?", .kind, .unknown.join(", "))]
    UnknownColumns { unknown: Vec<String>, kind: String },
    #[error("the header names the column {0} twice")]
    DuplicateColumn(String),
    #[error("the file has more than {} rows", super::thousands(MAX_ROWS))]
    TooManyRows,
    #[error("the file cannot be read past row {row}: {reason}")]
    Unreadable { row: u64, reason: String },
}

/// One refused row for the error report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub row: u64,
    pub field: Option<&'static str>,
    pub value: Option<String>,
    pub reason: String,
}

impl Rejection {
    pub fn row(row: u64, reason: impl Into<String>) -> Self {
        Self {
            row,
            field: None,
            value: None,
            reason: reason.into(),
        }
    }
    pub fn field(row: u64, field: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            row,
            field: Some(field),
            value: Some(value.chars().take(MAX_VALUE_CHARS).collect()),
            reason: reason.into(),
        }
    }
}

/// A data row (numbered by the line it starts on), its fields in the format's column order,
/// trimmed.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: u64,
    pub fields: Vec<String>,
}

impl Row {
    pub fn get(&self, kind: FeedKind, column: &str) -> &str {
        kind.columns()
            .iter()
            .position(|c| *c == column)
            .and_then(|i| self.fields.get(i))
            .map_or("", String::as_str)
    }
}

/// Reads CRLF as LF, so that rows are numbered by the lines an editor shows (the CSV reader
/// counts a line at its LF, and a CRLF row's LF would otherwise count towards the next row).
struct LineFeeds<R> {
    inner: R,
    /// A CR ended the last read: whether it is part of a CRLF is known only from the next.
    carriage_return: bool,
}

impl<R: Read> Read for LineFeeds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.len() < 2 {
            return self.inner.read(buf);
        }
        loop {
            let start = usize::from(self.carriage_return);
            let n = self.inner.read(&mut buf[start..])?;
            if n == 0 {
                // A CR at the very end stays.
                if std::mem::take(&mut self.carriage_return) {
                    buf[0] = b'\r';
                    return Ok(1);
                }
                return Ok(0);
            }
            if self.carriage_return {
                buf[0] = b'\r';
            }
            let end = start + n;
            let mut out = 0;
            for i in 0..end {
                let b = buf[i];
                if b == b'\r' && i + 1 < end && buf[i + 1] == b'\n' {
                    continue;
                }
                buf[out] = b;
                out += 1;
            }
            self.carriage_return = out > 0 && buf[out - 1] == b'\r';
            if self.carriage_return {
                out -= 1;
            }
            if out > 0 {
                return Ok(out);
            }
        }
    }
}

pub struct Feed<R: Read> {
    reader: csv::Reader<LineFeeds<R>>,
    /// For each of the format's columns, its place in the file.
    positions: Vec<usize>,
    width: usize,
    record: csv::ByteRecord,
    rows: u64,
    pub latin1: bool,
}

impl<R: Read> Feed<R> {
    pub fn open(kind: FeedKind, input: R) -> Result<Self, FileError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LineFeeds {
                inner: input,
                carriage_return: false,
            });
        let mut header = csv::ByteRecord::new();
        let read = reader
            .read_byte_record(&mut header)
            .map_err(|e| unreadable(1, &e))?;
        if !read || header.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            return Err(FileError::Empty);
        }
        let names: Vec<String> = header
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let text = decode(f).0;
                let text = if i == 0 {
                    text.trim_start_matches('\u{feff}').to_owned()
                } else {
                    text
                };
                text.trim().to_ascii_lowercase()
            })
            .collect();
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(FileError::DuplicateColumn(n.clone()));
            }
        }
        let expected = kind.columns();
        let missing: Vec<String> = expected
            .iter()
            .filter(|c| !names.iter().any(|n| n == *c))
            .map(|c| (*c).to_owned())
            .collect();
        let unknown: Vec<String> = names
            .iter()
            .filter(|n| !expected.contains(&n.as_str()))
            .cloned()
            .collect();
        if !unknown.is_empty() && missing.len() == expected.len() {
            return Err(FileError::UnknownColumns {
                unknown,
                kind: kind.code().to_ascii_uppercase(),
            });
        }
        if !missing.is_empty() {
            return Err(FileError::MissingColumns {
                missing,
                kind: kind.code().to_ascii_uppercase(),
                expected: expected.join(","),
            });
        }
        if !unknown.is_empty() {
            return Err(FileError::UnknownColumns {
                unknown,
                kind: kind.code().to_ascii_uppercase(),
            });
        }
        let positions = expected
            .iter()
            .filter_map(|c| names.iter().position(|n| n == c))
            .collect();
        Ok(Self {
            reader,
            positions,
            width: names.len(),
            record: csv::ByteRecord::new(),
            rows: 0,
            latin1: false,
        })
    }

    /// The next data row, a rejection for a row of the wrong shape, or the end (`None`).
    pub fn next_row(&mut self) -> Result<Option<Result<Row, Rejection>>, FileError> {
        loop {
            let line = self.reader.position().line();
            let read = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| unreadable(line, &e))?;
            if !read {
                return Ok(None);
            }
            // Rows are numbered by the line they start on, as an editor shows them.
            let number = self.record.position().map_or(line, csv::Position::line);
            // A blank line between rows is not a row.
            if self.record.len() == 1 && self.record[0].iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            self.rows += 1;
            if self.rows > MAX_ROWS {
                return Err(FileError::TooManyRows);
            }
            if self.record.as_slice().len() > MAX_ROW_BYTES {
                return Ok(Some(Err(Rejection::row(
                    number,
                    format!("the row is longer than {MAX_ROW_BYTES} bytes"),
                ))));
            }
            if self.record.len() != self.width {
                return Ok(Some(Err(Rejection::row(
                    number,
                    format!(
                        "the row has {} fields; the header has {}",
                        self.record.len(),
                        self.width
                    ),
                ))));
            }
            let mut fields = Vec::with_capacity(self.positions.len());
            for &p in &self.positions {
                let (text, latin1) = decode(&self.record[p]);
                self.latin1 |= latin1;
                fields.push(text.trim().to_owned());
            }
            return Ok(Some(Ok(Row { number, fields })));
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }
}

fn unreadable(row: u64, e: &csv::Error) -> FileError {
    let reason = match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => "the CSV is malformed".to_owned(),
    };
    FileError::Unreadable { row, reason }
}

/// UTF-8 when it is; otherwise Latin-1, where every byte is its own character.
fn decode(bytes: &[u8]) -> (String, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), false),
        Err(_) => (bytes.iter().map(|&b| char::from(b)).collect(), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(kind: FeedKind, text: &[u8]) -> Result<Vec<Result<Row, Rejection>>, FileError> {
        let mut feed = Feed::open(kind, text)?;
        let mut out = Vec::new();
        while let Some(r) = feed.next_row()? {
            out.push(r);
        }
        Ok(out)
    }

    const HEADER: &str = "tracking_code,routing_code,operation_code,facility_zip,scan_time";

    #[test]
    fn bom_crlf_quoted_newlines_and_column_order() {
        let text = format!(
            "\u{feff}scan_time,{}\r\n\"2026-10-07 08:00\",00040123456200000001,,\"9\n18\",94203\r\n",
            "tracking_code,routing_code,operation_code,facility_zip"
        );
        let all = rows(FeedKind::Pkg, text.as_bytes()).unwrap();
        let row = all[0].as_ref().unwrap();
        assert_eq!(row.number, 2);
        assert_eq!(
            row.get(FeedKind::Pkg, "tracking_code"),
            "00040123456200000001"
        );
        assert_eq!(row.get(FeedKind::Pkg, "operation_code"), "9\n18");
        assert_eq!(row.get(FeedKind::Pkg, "scan_time"), "2026-10-07 08:00");
    }

    #[test]
    fn latin1_is_read_as_latin1() {
        let mut text = b"county_fips,voter_id,first_name,middle_name,last_name,suffix,date_of_birth,residential_zip,precinct,language,confidential,email,phone\n06001,A1,Jos".to_vec();
        text.push(0xE9);
        text.extend_from_slice(b",,Pe\xF1a,,1980-01-02,94601,P1,es,N,,\n");
        let mut feed = Feed::open(FeedKind::Vot, &text[..]).unwrap();
        let row = feed.next_row().unwrap().unwrap().unwrap();
        assert_eq!(row.get(FeedKind::Vot, "first_name"), "José");
        assert_eq!(row.get(FeedKind::Vot, "last_name"), "Peña");
        assert!(feed.latin1);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        assert_eq!(rows(FeedKind::Pkg, b"").unwrap_err(), FileError::Empty);
        assert_eq!(rows(FeedKind::Pkg, b"\r\n").unwrap_err(), FileError::Empty);
        let missing = rows(FeedKind::Pkg, b"tracking_code,routing_code\n").unwrap_err();
        assert!(matches!(missing, FileError::MissingColumns { .. }));
        assert!(missing.to_string().contains("operation_code"));
        let extra = rows(FeedKind::Pkg, format!("{HEADER},colour\n").as_bytes()).unwrap_err();
        assert!(extra.to_string().contains("colour"), "{extra}");
        let wrong_kind = rows(FeedKind::Pkg, b"county_fips,voter_id\n").unwrap_err();
        assert!(matches!(wrong_kind, FileError::UnknownColumns { .. }));
        let twice = rows(FeedKind::Pkg, format!("{HEADER},scan_time\n").as_bytes()).unwrap_err();
        assert_eq!(twice, FileError::DuplicateColumn("scan_time".into()));
    }

    #[test]
    fn rows_of_the_wrong_shape_are_rejected_and_the_rest_read() {
        let text = format!(
            "{HEADER}\n1,2,3\n\n00040123456200000001,,918,94203,2026-10-07 08:00,extra\n00040123456200000001,,918,94203,2026-10-07 08:00\n"
        );
        let all = rows(FeedKind::Pkg, text.as_bytes()).unwrap();
        assert_eq!(all.len(), 3);
        let first = all[0].as_ref().unwrap_err();
        assert_eq!(first.row, 2);
        assert!(first.reason.contains("3 fields"));
        assert!(all[1].is_err());
        assert_eq!(all[2].as_ref().unwrap().number, 4 + 1);
        // The same with CRLF line ends, read a few bytes at a time.
        let crlf = text.replace("\n\n", "\n").replace('\n', "\r\n");
        let trickle = Trickle(crlf.as_bytes());
        let mut feed = Feed::open(FeedKind::Pkg, trickle).unwrap();
        let mut numbers = Vec::new();
        while let Some(r) = feed.next_row().unwrap() {
            numbers.push(r.map_or_else(|e| e.row, |r| r.number));
        }
        assert_eq!(numbers, vec![2, 3, 4]);
    }

    /// Gives at most three bytes a read, so CRLFs straddle reads.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(3).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }
}
