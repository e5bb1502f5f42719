//! Writing an export: one SQL statement per kind, read row by row from PostgreSQL and written as
//! CSV (RFC 4180, UTF-8 with a byte-order mark, CRLF) or XLSX (rust_xlsxwriter in its
//! constant-memory mode), handed on in parts of about a megabyte. Nothing holds more than a part
//! and a row, whatever the export's size.
//!
//! Every text cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is
//! neutralised with a leading `'`, in both formats: a spreadsheet then shows it as text and never
//! runs it as a formula.

use super::{ExportFormat, ExportKind, ExportSpec};
use crate::domain::{BallotStatus, Language, NotCountedReason, wording};
use futures::TryStreamExt;
use sqlx::{PgConnection, Row};
use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// About this many bytes a part.
pub const PART_BYTES: usize = 1 << 20;
/// Rows a worksheet holds (Excel's limit, less the header): longer exports go on to the next
/// worksheet.
pub const SHEET_ROWS: u32 = 1_048_575;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("writing the spreadsheet: {0}")]
    Xlsx(String),
    #[error("the export was stopped before it finished")]
    Cancelled,
}

/// How a column's cell is made from the row.
#[derive(Clone, Copy)]
enum Cell {
    /// The SQL column, as it is.
    Sql(usize),
    /// The status page's headline for the status code in that column.
    StatusHeadline(usize),
    /// The status page's headline for the reason code in that column.
    ReasonHeadline(usize),
}

struct Table {
    sql: &'static str,
    columns: &'static [(&'static str, Cell)],
}

/// Pacific time, as the portal shows it.
macro_rules! pacific {
    ($col:literal) => {
        concat!(
            "to_char(",
            $col,
            " at time zone 'America/Los_Angeles', 'YYYY-MM-DD HH24:MI:SS')"
        )
    };
}

/// The day range filter ($5, $6: days in Pacific time, both ends included) on a timestamp.
macro_rules! days {
    ($col:literal) => {
        concat!(
            "($5::date is null or ",
            $col,
            " >= ($5::date::timestamp at time zone 'America/Los_Angeles')) and ($6::date is null or ",
            $col,
            " < (($6::date + 1)::timestamp at time zone 'America/Los_Angeles'))"
        )
    };
}

/// The voter and ballot columns the ballot list and the cure list begin with.
macro_rules! voter_columns {
    () => {
        "select c.name, e.name, v.county_voter_id,
                concat_ws(' ', v.first_name, v.middle_name, v.last_name, v.suffix), v.precinct,
                b.ballot_number, "
    };
}

/// The ballot with its voter, election and county, and the filters on them.
macro_rules! ballot_joins {
    () => {
        " from ballots b
         join voters v on v.id = b.voter_id
         join elections e on e.id = b.election_id
         join counties c on c.fips = b.county_fips "
    };
}

// Parameters, the same for every kind: $1 county, $2 election, $3 status, $4 precinct, $5 from,
// $6 to, $7 the curable reasons.
const BALLOTS: Table = Table {
    sql: concat!(
        voter_columns!(),
        "b.status, b.status_reason, ",
        pacific!("b.status_at"),
        ", b.outbound_imb, b.inbound_imb, r.ballot_number, $7::text[] is null",
        ballot_joins!(),
        "left join ballots r on r.id = b.replaces_ballot_id
         where ($1::text is null or b.county_fips = $1)
           and ($2::bigint is null or b.election_id = $2)
           and ($3::text is null or b.status = $3)
           and ($4::text is null or v.precinct = $4)
           and ",
        days!("b.status_at"),
        " order by b.id"
    ),
    columns: &[
        ("County", Cell::Sql(0)),
        ("Election", Cell::Sql(1)),
        ("Voter ID", Cell::Sql(2)),
        ("Name", Cell::Sql(3)),
        ("Precinct", Cell::Sql(4)),
        ("Ballot", Cell::Sql(5)),
        ("Status code", Cell::Sql(6)),
        ("Status", Cell::StatusHeadline(6)),
        ("Reason code", Cell::Sql(7)),
        ("Reason", Cell::ReasonHeadline(7)),
        ("Since (Pacific)", Cell::Sql(8)),
        ("Outbound IMb", Cell::Sql(9)),
        ("Inbound IMb", Cell::Sql(10)),
        ("Replaces ballot", Cell::Sql(11)),
    ],
};

const CURE: Table = Table {
    sql: concat!(
        voter_columns!(),
        "b.status_reason, ",
        pacific!("b.status_at"),
        ", ",
        pacific!("e.cure_deadline"),
        ", v.language,
                case when v.confidential then 'yes' else 'no' end,
                case when not v.confidential then v.email end,
                case when not v.confidential then v.phone end,
                case when not v.confidential then
                    (select string_agg(s.channel || ' ' || s.address, '; ' order by s.id)
                     from subscriptions s
                     where s.voter_id = v.id and s.confirmed_at is not null and s.cancelled_at is null)
                end,
                ($3::text is null)",
        ballot_joins!(),
        "where b.status = 'not_counted' and b.status_reason = any($7)
           and ($1::text is null or b.county_fips = $1)
           and ($2::bigint is null or b.election_id = $2)
           and ($4::text is null or v.precinct = $4)
           and ",
        days!("b.status_at"),
        " order by b.id"
    ),
    columns: &[
        ("County", Cell::Sql(0)),
        ("Election", Cell::Sql(1)),
        ("Voter ID", Cell::Sql(2)),
        ("Name", Cell::Sql(3)),
        ("Precinct", Cell::Sql(4)),
        ("Ballot", Cell::Sql(5)),
        ("Reason code", Cell::Sql(6)),
        ("Reason", Cell::ReasonHeadline(6)),
        ("Not counted since (Pacific)", Cell::Sql(7)),
        ("Cure deadline (Pacific)", Cell::Sql(8)),
        ("Language", Cell::Sql(9)),
        // Safe at Home and other confidential voters: reached through their program, never
        // from a list.
        ("Confidential", Cell::Sql(10)),
        ("Email on file", Cell::Sql(11)),
        ("Phone on file", Cell::Sql(12)),
        ("Subscribed to", Cell::Sql(13)),
    ],
};

const NOTIFICATIONS: Table = Table {
    sql: concat!(
        "select n.id::text, c.name, ",
        pacific!("n.created_at"),
        ", n.kind, n.template, n.channel, n.language,
                case when s.channel = 'email'
                     then left(s.address, 1) || '***' || substr(s.address, strpos(s.address, '@'))
                     else '***' || right(s.address, 4) end,
                n.state, n.attempts::text, ",
        pacific!("n.sent_at"),
        ", ",
        pacific!("n.delivered_at"),
        ", b.ballot_number, n.last_error, ($7::text[] is null)
         from notifications n
         join subscriptions s on s.id = n.subscription_id
         join counties c on c.fips = n.county_fips
         left join ballots b on b.id = n.ballot_id
         left join voters v on v.id = s.voter_id
         where ($1::text is null or n.county_fips = $1)
           and ($2::bigint is null or b.election_id = $2)
           and ($3::text is null or n.state = $3)
           and ($4::text is null or v.precinct = $4)
           and ",
        days!("n.created_at"),
        " order by n.id"
    ),
    columns: &[
        ("Message", Cell::Sql(0)),
        ("County", Cell::Sql(1)),
        ("Queued (Pacific)", Cell::Sql(2)),
        ("Kind", Cell::Sql(3)),
        ("Template", Cell::Sql(4)),
        ("About", Cell::StatusHeadline(4)),
        ("Channel", Cell::Sql(5)),
        ("Language", Cell::Sql(6)),
        ("To", Cell::Sql(7)),
        ("State", Cell::Sql(8)),
        ("Attempts", Cell::Sql(9)),
        ("Sent (Pacific)", Cell::Sql(10)),
        ("Delivered (Pacific)", Cell::Sql(11)),
        ("Ballot", Cell::Sql(12)),
        ("Last error", Cell::Sql(13)),
    ],
};

const AUDIT: Table = Table {
    sql: concat!(
        "select a.id::text, ",
        pacific!("a.occurred_at"),
        ", c.name, a.actor_kind, u.email, a.action, a.entity, a.entity_id, a.before::text,
                a.after::text, host(a.client_ip), a.request_id,
                ($2::bigint is null), ($3::text is null), ($4::text is null), ($7::text[] is null)
         from audit_log a
         left join counties c on c.fips = a.county_fips
         left join admin_users u on u.id = a.actor_user_id
         where ($1::text is null or a.county_fips = $1)
           and ",
        days!("a.occurred_at"),
        " order by a.id"
    ),
    columns: &[
        ("Entry", Cell::Sql(0)),
        ("When (Pacific)", Cell::Sql(1)),
        ("County", Cell::Sql(2)),
        ("Actor kind", Cell::Sql(3)),
        ("Who", Cell::Sql(4)),
        ("Action", Cell::Sql(5)),
        ("Record", Cell::Sql(6)),
        ("Record id", Cell::Sql(7)),
        ("Before", Cell::Sql(8)),
        ("After", Cell::Sql(9)),
        ("From", Cell::Sql(10)),
        ("Request", Cell::Sql(11)),
    ],
};

const IMPORTS: Table = Table {
    sql: concat!(
        "select i.id::text, c.name, e.name, upper(i.kind), i.file_name, i.file_sha256,
                i.row_count::text, i.rejected_rows::text, i.state, ",
        pacific!("i.created_at"),
        ", u.email, ",
        pacific!("i.applied_at"),
        ", i.summary::text, i.failure,
                ($3::text is null), ($4::text is null), ($7::text[] is null)
         from imports i
         join counties c on c.fips = i.county_fips
         left join elections e on e.id = i.election_id
         left join admin_users u on u.id = coalesce(i.applied_by, i.created_by)
         where ($1::text is null or i.county_fips = $1)
           and ($2::bigint is null or i.election_id = $2)
           and ",
        days!("i.created_at"),
        " order by i.id"
    ),
    columns: &[
        ("Import", Cell::Sql(0)),
        ("County", Cell::Sql(1)),
        ("Election", Cell::Sql(2)),
        ("Kind", Cell::Sql(3)),
        ("File", Cell::Sql(4)),
        ("SHA-256", Cell::Sql(5)),
        ("Rows", Cell::Sql(6)),
        ("Rejected rows", Cell::Sql(7)),
        ("State", Cell::Sql(8)),
        ("Loaded (Pacific)", Cell::Sql(9)),
        ("By", Cell::Sql(10)),
        ("Applied (Pacific)", Cell::Sql(11)),
        ("Summary", Cell::Sql(12)),
        ("Failure", Cell::Sql(13)),
    ],
};

const fn table(kind: ExportKind) -> &'static Table {
    match kind {
        ExportKind::Ballots => &BALLOTS,
        ExportKind::Cure => &CURE,
        ExportKind::Notifications => &NOTIFICATIONS,
        ExportKind::Audit => &AUDIT,
        ExportKind::Imports => &IMPORTS,
    }
}

/// The column headings of an export, in order.
pub fn headers(kind: ExportKind) -> Vec<&'static str> {
    table(kind).columns.iter().map(|(h, _)| *h).collect()
}

/// The reasons a voter can fix: the cure list's rows.
fn curable() -> Vec<&'static str> {
    NotCountedReason::ALL
        .into_iter()
        .filter(|r| r.is_curable())
        .map(NotCountedReason::code)
        .collect()
}

fn bind<'q>(
    sql: &'q str,
    spec: &'q ExportSpec,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let f = &spec.filters;
    sqlx::query(sql)
        .bind(spec.county_fips.as_deref())
        .bind(f.election_id)
        .bind(f.status.as_deref())
        .bind(f.precinct.as_deref())
        .bind(f.from)
        .bind(f.to)
        .bind(curable())
}

/// How many rows the export will have (the progress bar's end; whether it runs at once).
pub async fn count(conn: &mut PgConnection, spec: &ExportSpec) -> Result<i64, sqlx::Error> {
    let sql = format!("select count(*) from ({}) rows", table(spec.kind).sql);
    let row = bind(&sql, spec).fetch_one(conn).await?;
    row.try_get(0)
}

/// A cell made safe for a spreadsheet: a leading `=`, `+`, `-`, `@`, tab or carriage return gets
/// a `'` before it.
pub fn neutral(raw: &str) -> Cow<'_, str> {
    if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{raw}"))
    } else {
        Cow::Borrowed(raw)
    }
}

fn status_headline(code: &str) -> Cow<'static, str> {
    BallotStatus::parse(code)
        .map(|s| Cow::Borrowed(wording::status(s, Language::En).headline))
        .unwrap_or(Cow::Borrowed(""))
}

fn reason_headline(code: &str) -> Cow<'static, str> {
    NotCountedReason::parse(code)
        .map(|r| Cow::Borrowed(wording::reason(r, Language::En).headline))
        .unwrap_or(Cow::Borrowed(""))
}

/// Where rows go: CSV is written here, a part at a time; XLSX rows go to the spreadsheet
/// writer's thread.
enum Sink {
    Csv {
        out: Vec<u8>,
        parts: mpsc::Sender<Vec<u8>>,
    },
    Xlsx {
        rows: mpsc::Sender<Vec<String>>,
        writer: tokio::task::JoinHandle<Result<(), ExportError>>,
    },
}

/// One CSV record (RFC 4180): cells quoted when they hold a comma, a quote or a line break,
/// quotes doubled, CRLF at the end.
pub fn push_record<S: AsRef<str>>(out: &mut Vec<u8>, cells: &[S]) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let cell = cell.as_ref();
        if cell.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            for part in cell.split('"').enumerate() {
                if part.0 > 0 {
                    out.extend_from_slice(b"\"\"");
                }
                out.extend_from_slice(part.1.as_bytes());
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(cell.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

impl Sink {
    fn new(format: ExportFormat, headers: &[&str], parts: mpsc::Sender<Vec<u8>>) -> Self {
        match format {
            ExportFormat::Csv => {
                let mut out = Vec::with_capacity(PART_BYTES + 64 * 1024);
                // The byte-order mark: Excel then reads the file as UTF-8.
                out.extend_from_slice("\u{feff}".as_bytes());
                push_record(&mut out, headers);
                Sink::Csv { out, parts }
            }
            ExportFormat::Xlsx => {
                let (rows, incoming) = mpsc::channel::<Vec<String>>(1024);
                let headers: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
                let writer =
                    tokio::task::spawn_blocking(move || write_xlsx(&headers, incoming, parts));
                Sink::Xlsx { rows, writer }
            }
        }
    }

    async fn row(&mut self, cells: &[Cow<'_, str>]) -> Result<(), ExportError> {
        match self {
            Sink::Csv { out, parts } => {
                push_record(out, cells);
                if out.len() >= PART_BYTES {
                    let part = std::mem::replace(out, Vec::with_capacity(PART_BYTES + 64 * 1024));
                    parts.send(part).await.map_err(|_| ExportError::Cancelled)?;
                }
                Ok(())
            }
            Sink::Xlsx { rows, .. } => rows
                .send(cells.iter().map(|c| c.to_string()).collect())
                .await
                .map_err(|_| ExportError::Cancelled),
        }
    }

    async fn finish(self) -> Result<(), ExportError> {
        match self {
            Sink::Csv { out, parts } => {
                if !out.is_empty() {
                    parts.send(out).await.map_err(|_| ExportError::Cancelled)?;
                }
                Ok(())
            }
            Sink::Xlsx { rows, writer } => {
                drop(rows);
                writer.await.map_err(|e| ExportError::Xlsx(e.to_string()))?
            }
        }
    }
}

/// A `Write` that hands on what the spreadsheet writer writes, a part at a time.
struct PartWriter {
    buffer: Vec<u8>,
    parts: mpsc::Sender<Vec<u8>>,
}

impl std::io::Write for PartWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= PART_BYTES {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let part = std::mem::replace(&mut self.buffer, Vec::with_capacity(PART_BYTES));
        self.parts
            .blocking_send(part)
            .map_err(|_| std::io::Error::other("the export was stopped"))
    }
}

/// The spreadsheet: worksheets in constant-memory mode (each row goes to a temporary file as it
/// is finished), a header row on each, then the whole file zipped into parts.
fn write_xlsx(
    headers: &[String],
    mut rows: mpsc::Receiver<Vec<String>>,
    parts: mpsc::Sender<Vec<u8>>,
) -> Result<(), ExportError> {
    use rust_xlsxwriter::{Format, Workbook};
    let x = |e: rust_xlsxwriter::XlsxError| ExportError::Xlsx(e.to_string());
    let bold = Format::new().set_bold();
    let mut workbook = Workbook::new();
    let mut sheet = workbook.add_worksheet_with_constant_memory().map_err(x)?;
    for (c, h) in headers.iter().enumerate() {
        sheet
            .write_string_with_format(0, col(c), h, &bold)
            .map_err(x)?;
    }
    let mut row: u32 = 0;
    while let Some(cells) = rows.blocking_recv() {
        if row == SHEET_ROWS {
            sheet = workbook.add_worksheet_with_constant_memory().map_err(x)?;
            for (c, h) in headers.iter().enumerate() {
                sheet
                    .write_string_with_format(0, col(c), h, &bold)
                    .map_err(x)?;
            }
            row = 0;
        }
        row += 1;
        for (c, cell) in cells.into_iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(row, col(c), cell).map_err(x)?;
            }
        }
    }
    let mut out = PartWriter {
        buffer: Vec::with_capacity(PART_BYTES),
        parts,
    };
    workbook.save_to_writer(&mut out).map_err(x)?;
    std::io::Write::flush(&mut out).map_err(|e| ExportError::Xlsx(e.to_string()))
}

fn col(c: usize) -> u16 {
    u16::try_from(c).unwrap_or(u16::MAX)
}

/// Writes the export: its rows, read from `conn` (a transaction scoped to whoever asked), go as
/// parts of the file to `parts`; `progress` counts rows as they are written. Returns the rows.
pub async fn write(
    conn: &mut PgConnection,
    spec: &ExportSpec,
    parts: mpsc::Sender<Vec<u8>>,
    progress: Arc<AtomicU64>,
) -> Result<u64, ExportError> {
    let table = table(spec.kind);
    let headers = headers(spec.kind);
    let mut sink = Sink::new(spec.format, &headers, parts);
    let mut rows = bind(table.sql, spec).fetch(&mut *conn);
    let mut written = 0u64;
    while let Some(row) = rows.try_next().await? {
        let mut cells: Vec<Cow<'_, str>> = Vec::with_capacity(table.columns.len());
        for (_, cell) in table.columns {
            let text = match *cell {
                Cell::Sql(i) => row
                    .try_get::<Option<&str>, _>(i)?
                    .map_or(Cow::Borrowed(""), neutral),
                Cell::StatusHeadline(i) => row
                    .try_get::<Option<&str>, _>(i)?
                    .map_or(Cow::Borrowed(""), status_headline),
                Cell::ReasonHeadline(i) => row
                    .try_get::<Option<&str>, _>(i)?
                    .map_or(Cow::Borrowed(""), reason_headline),
            };
            cells.push(text);
        }
        sink.row(&cells).await?;
        written += 1;
        if written.is_multiple_of(1024) {
            progress.store(written, Ordering::Relaxed);
        }
    }
    drop(rows);
    progress.store(written, Ordering::Relaxed);
    sink.finish().await?;
    Ok(written)
}

/// The whole export in memory: for the small ones that download at once, and tests.
pub async fn to_bytes(
    conn: &mut PgConnection,
    spec: &ExportSpec,
) -> Result<(Vec<u8>, u64), ExportError> {
    let (parts, mut incoming) = mpsc::channel::<Vec<u8>>(4);
    let collect = tokio::spawn(async move {
        let mut all = Vec::new();
        while let Some(part) = incoming.recv().await {
            all.extend_from_slice(&part);
        }
        all
    });
    let rows = write(conn, spec, parts, Arc::new(AtomicU64::new(0))).await?;
    let bytes = collect
        .await
        .map_err(|e| ExportError::Xlsx(e.to_string()))?;
    Ok((bytes, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        for raw in ["=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutral(raw), format!("'{raw}"));
        }
        assert_eq!(neutral("O'Brien"), "O'Brien");
        assert_eq!(neutral("a=b"), "a=b");
    }

    #[test]
    fn records_are_quoted_as_rfc_4180_says() {
        let mut out = Vec::new();
        push_record(&mut out, &["plain", "a,b", "say \"hi\"", "two\nlines", ""]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\r\n"
        );
    }

    #[test]
    fn every_column_reads_a_column_the_query_has() {
        for kind in ExportKind::ALL {
            let t = table(kind);
            let select = t.sql.split(" from ").next().unwrap_or_default();
            // Columns are separated by top-level commas; count them roughly as an upper bound.
            let max = t
                .columns
                .iter()
                .map(|(_, c)| match *c {
                    Cell::Sql(i) | Cell::StatusHeadline(i) | Cell::ReasonHeadline(i) => i,
                })
                .max()
                .unwrap_or(0);
            assert!(select.matches(',').count() >= max, "{kind:?}");
        }
    }
}
