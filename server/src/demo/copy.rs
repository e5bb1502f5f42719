//! Rows in PostgreSQL's COPY text format, sent in large chunks.

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
}
