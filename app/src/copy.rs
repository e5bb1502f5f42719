//! Rows in PostgreSQL's COPY formats (text, and binary for the largest writes), sent in large
//! chunks.

use sqlx::PgConnection;
use std::fmt::Write;

/// One table's worth of COPY text: tab-separated, `\N` for null, backslash escapes.
pub struct CopyBuffer {
    statement: String,
    text: String,
    first_field: bool,
    pub rows: u64,
}

impl CopyBuffer {
    pub fn new(table: &str, columns: &[&str]) -> Self {
        Self {
            statement: format!("copy {table} ({}) from stdin", columns.join(", ")),
            text: String::with_capacity(1 << 20),
            first_field: true,
            rows: 0,
        }
    }

    fn sep(&mut self) {
        if !self.first_field {
            self.text.push('\t');
        }
        self.first_field = false;
    }

    pub fn text(&mut self, value: &str) -> &mut Self {
        self.sep();
        if !value.contains(['\\', '\t', '\n', '\r']) {
            self.text.push_str(value);
            return self;
        }
        for c in value.chars() {
            match c {
                '\\' => self.text.push_str("\\\\"),
                '\t' => self.text.push_str("\\t"),
                '\n' => self.text.push_str("\\n"),
                '\r' => self.text.push_str("\\r"),
                c => self.text.push(c),
            }
        }
        self
    }

    /// A value whose `Display` form needs no escaping (numbers, dates, codes).
    pub fn plain(&mut self, value: impl std::fmt::Display) -> &mut Self {
        self.sep();
        let _ = write!(self.text, "{value}");
        self
    }

    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    pub fn opt_plain(&mut self, value: Option<impl std::fmt::Display>) -> &mut Self {
        match value {
            Some(v) => self.plain(v),
            None => self.null(),
        }
    }

    pub fn null(&mut self) -> &mut Self {
        self.sep();
        self.text.push_str("\\N");
        self
    }

    pub fn end_row(&mut self) {
        self.text.push('\n');
        self.first_field = true;
        self.rows += 1;
    }

    /// Sends what is buffered and empties the buffer.
    pub async fn flush(&mut self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.text.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let bytes = self.text.len();
        let mut copy = conn.copy_in_raw(&self.statement).await?;
        copy.send(std::mem::take(&mut self.text).into_bytes())
            .await?;
        let rows = copy.finish().await?;
        tracing::debug!(copy.statement = %self.statement, copy.rows = rows, copy.bytes = bytes,
            elapsed_secs = started.elapsed().as_secs_f64(), "copy");
        Ok(())
    }
}

/// One table's worth of COPY's binary format: no text for PostgreSQL to parse (times above
/// all), for the largest writes. Each flush is one COPY statement, with its own header and
/// trailer; every row must give every column, in the statement's order and of its exact type.
pub struct BinaryCopy {
    statement: String,
    columns: i16,
    bytes: Vec<u8>,
    pub rows: u64,
}

/// 2000-01-01, PostgreSQL's epoch, in Unix microseconds and days.
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
const PG_EPOCH_DAYS: i32 = 10_957;

impl BinaryCopy {
    pub fn new(table: &str, columns: &[&str]) -> Self {
        Self {
            statement: format!(
                "copy {table} ({}) from stdin with (format binary)",
                columns.join(", ")
            ),
            columns: i16::try_from(columns.len()).unwrap_or(i16::MAX),
            bytes: Vec::with_capacity(1 << 20),
            rows: 0,
        }
    }

    /// Bytes buffered.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Starts a row; its fields follow.
    pub fn row(&mut self) -> &mut Self {
        if self.bytes.is_empty() {
            self.bytes.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
            self.bytes.extend_from_slice(&0i32.to_be_bytes()); // flags
            self.bytes.extend_from_slice(&0i32.to_be_bytes()); // header extension
        }
        self.bytes.extend_from_slice(&self.columns.to_be_bytes());
        self.rows += 1;
        self
    }

    fn field(&mut self, value: &[u8]) -> &mut Self {
        let len = i32::try_from(value.len()).unwrap_or(i32::MAX);
        self.bytes.extend_from_slice(&len.to_be_bytes());
        self.bytes.extend_from_slice(value);
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.bytes.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    /// A `bigint`.
    pub fn int8(&mut self, value: i64) -> &mut Self {
        self.field(&value.to_be_bytes())
    }

    pub fn opt_int8(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => self.int8(v),
            None => self.null(),
        }
    }

    /// A `text`.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.field(value.as_bytes())
    }

    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.field(&[u8::from(value)])
    }

    /// A `timestamptz`: microseconds since PostgreSQL's epoch.
    pub fn timestamptz(&mut self, at: chrono::DateTime<chrono::Utc>) -> &mut Self {
        self.field(&(at.timestamp_micros() - PG_EPOCH_MICROS).to_be_bytes())
    }

    /// A `date`: days since PostgreSQL's epoch.
    pub fn opt_date(&mut self, day: Option<chrono::NaiveDate>) -> &mut Self {
        match day {
            Some(d) => {
                let days = d.to_epoch_days() - PG_EPOCH_DAYS;
                self.field(&days.to_be_bytes())
            }
            None => self.null(),
        }
    }

    /// Takes what is buffered, ended, as one COPY to send when the connection is free; none
    /// when nothing is buffered. The buffer starts again empty.
    pub fn take(&mut self) -> Option<CopyChunk> {
        if self.bytes.is_empty() {
            return None;
        }
        self.bytes.extend_from_slice(&(-1i16).to_be_bytes());
        let bytes = std::mem::replace(&mut self.bytes, Vec::with_capacity(1 << 20));
        Some(CopyChunk {
            statement: self.statement.clone(),
            bytes,
        })
    }

    /// Sends what is buffered as one COPY and empties the buffer.
    pub async fn flush(&mut self, conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
        match self.take() {
            Some(chunk) => chunk.send(conn).await,
            None => Ok(0),
        }
    }
}

/// One COPY statement's rows in the binary format, complete, taken from a [`BinaryCopy`]: it
/// can be made on one thread and sent on another.
pub struct CopyChunk {
    statement: String,
    bytes: Vec<u8>,
}

impl CopyChunk {
    /// Sends the rows; returns how many PostgreSQL took.
    pub async fn send(self, conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
        let mut copy = conn.copy_in_raw(&self.statement).await?;
        copy.send(self.bytes).await?;
        copy.finish().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_nulls() {
        let mut b = CopyBuffer::new("t", &["a", "b", "c"]);
        b.text("x\ty\\z").null().plain(3);
        b.end_row();
        assert_eq!(b.text, "x\\ty\\\\z\t\\N\t3\n");
        assert_eq!(b.statement, "copy t (a, b, c) from stdin");
    }

    /// Every kind of field, read back by PostgreSQL as written: times to the microsecond
    /// (before and after PostgreSQL's epoch), dates, nulls, text with tabs and line breaks.
    #[sqlx::test(migrations = false)]
    async fn binary_rows_read_back_as_written(pool: sqlx::PgPool) {
        use chrono::{DateTime, NaiveDate, TimeZone, Utc};
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query("create table t (a bigint, b text, c timestamptz, d date, e boolean)")
            .execute(&mut *conn)
            .await
            .unwrap();
        let later = Utc.with_ymd_and_hms(2026, 10, 6, 19, 4, 5).unwrap()
            + chrono::Duration::microseconds(123_456);
        let earlier = Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 3);
        let mut b = BinaryCopy::new("t", &["a", "b", "c", "d", "e"]);
        b.row()
            .int8(-7)
            .text("tab\there\nand é")
            .timestamptz(later)
            .opt_date(day)
            .bool(true);
        b.row()
            .opt_int8(None)
            .opt_text(None)
            .timestamptz(earlier)
            .opt_date(NaiveDate::from_ymd_opt(1999, 12, 31))
            .bool(false);
        assert_eq!(b.flush(&mut conn).await.unwrap(), 2);
        assert!(b.is_empty());
        type Back = (
            Option<i64>,
            Option<String>,
            DateTime<Utc>,
            Option<NaiveDate>,
            bool,
        );
        let rows: Vec<Back> = sqlx::query_as("select a, b, c, d, e from t order by e desc")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        assert_eq!(
            rows,
            vec![
                (Some(-7), Some("tab\there\nand é".into()), later, day, true),
                (
                    None,
                    None,
                    earlier,
                    NaiveDate::from_ymd_opt(1999, 12, 31),
                    false
                ),
            ]
        );
    }
}
