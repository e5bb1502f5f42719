//! Imports from the command line: a file killed mid-apply leaves nothing half-applied, and the
//! same command run again applies it whole.

use sqlx::PgPool;
use std::io::Write;
use std::time::{Duration, Instant};

fn database_url(pool: &PgPool) -> String {
    let o = pool.connect_options();
    format!(
        "postgres://{}@{}:{}/{}",
        o.get_username(),
        o.get_host(),
        o.get_port(),
        o.get_database().unwrap_or("postgres")
    )
}

fn voter_master(rows: usize) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("bt-vot-{}-{rows}.csv", std::process::id()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(
        out,
        "county_fips,voter_id,first_name,middle_name,last_name,suffix,date_of_birth,residential_zip,precinct,language,confidential,email,phone"
    )
    .unwrap();
    for i in 0..rows {
        writeln!(
            out,
            "06001,K-{i},Ana{i},,Lopez,,1980-01-{:02},946{:02},P-{},es,N,,",
            i % 28 + 1,
            i % 100,
            i % 40
        )
        .unwrap();
    }
    out.flush().unwrap();
    path
}

fn import(url: &str, file: &std::path::Path) -> std::process::Command {
    import_kind(url, &["--kind", "vot"], file)
}

/// `ballot-tracker import --county 06001 --apply` with the given kind (and election).
fn import_kind(url: &str, kind: &[&str], file: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ballot-tracker"));
    cmd.args(["import", "--county", "06001", "--apply"])
        .args(kind)
        .arg(file)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn an_import_killed_mid_apply_leaves_nothing_half_applied(pool: PgPool) {
    let url = database_url(&pool);
    let rows = 150_000;
    let file = voter_master(rows);
    let mut child = import(&url, &file).spawn().unwrap();
    // Once the apply is under way: its first chunk of voters is being written, or written.
    kill_when(
        &pool,
        &mut child,
        "select count(*) from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()
           and (query like 'insert into voters%' or state = 'idle in transaction')",
    )
    .await;
    assert_eq!(count(&pool, "select count(*) from voters").await, 0);
    assert_eq!(
        count(
            &pool,
            "select count(*) from imports where state = 'applied'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "select count(*) from audit_log where action = 'import.applied'"
        )
        .await,
        0
    );

    // Run again, it applies the whole file.
    let done = import(&url, &file).output().unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(stdout.contains("150,000 voters added"), "{stdout}");
    assert_eq!(
        count(&pool, "select count(*) from voters").await,
        i64::try_from(rows).unwrap()
    );
    std::fs::remove_file(file).unwrap();
}

/// Kills `child` once `busy` (a count of the import's sessions in some state) is above zero,
/// failing if it ends first.
async fn kill_when(pool: &PgPool, child: &mut std::process::Child, busy: &str) {
    let started = Instant::now();
    while count(pool, busy).await == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import ended before it could be interrupted"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the import never got that far"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A county's first ELG file (the first-load way: a partition of its own, filled by COPY and
/// attached at the end) killed while its ballots are being written leaves no ballot, no
/// partition and no table behind; killed while attaching, after its events were committed
/// aside, it leaves them to the next first load, which sweeps them; run again, it applies whole.
#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn a_first_load_killed_mid_apply_leaves_no_partition(pool: PgPool) {
    let url = database_url(&pool);
    let rows: i64 = 100_000;
    let (election, day) = crate::helpers::upcoming_election(&pool, "General").await;
    sqlx::query(
        "insert into voters (county_fips, county_voter_id, first_name, last_name, first_name_norm,
           last_name_norm, date_of_birth, residential_zip)
         select '06001', 'K-' || i, 'Ana', 'Lopez', 'ana', 'lopez', '1980-01-01', '94601'
         from generate_series(0, $1 - 1) i",
    )
    .bind(rows)
    .execute(&pool)
    .await
    .unwrap();
    let path = std::env::temp_dir().join(format!("bt-elg-{}.csv", std::process::id()));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(
        out,
        "county_fips,election_date,voter_id,ballot_id,status_code,status_date,reason_code,outbound_imb,inbound_imb"
    )
    .unwrap();
    let mailed = chrono::Utc::now().date_naive() - chrono::Duration::days(2);
    for i in 0..rows {
        writeln!(
            out,
            "06001,{day},K-{i},B-{i},MAILED,{mailed},,00700987654{i:09}94601,"
        )
        .unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let election_arg = election.to_string();
    let kind = [
        "--kind",
        "elg",
        "--election",
        &election_arg,
        "--confirm",
        "mass_change",
    ];

    let mut child = import_kind(&url, &kind, &path).spawn().unwrap();
    // While the partition's tables are being filled.
    kill_when(
        &pool,
        &mut child,
        "select count(*) from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()
           and query like 'copy ballot%'",
    )
    .await;
    for (what, sql) in [
        ("ballots", "select count(*) from ballots"),
        ("events", "select count(*) from ballot_events"),
        ("partitions", "select count(*) from ballot_partitions"),
        (
            "tables",
            "select count(*) from pg_class where relname ~ '^ballot(s|_events)_[1-9]'",
        ),
        (
            "applied imports",
            "select count(*) from imports where state = 'applied'",
        ),
    ] {
        assert_eq!(count(&pool, sql).await, 0, "{what}");
    }

    let mut child = import_kind(&url, &kind, &path).spawn().unwrap();
    kill_when(
        &pool,
        &mut child,
        "select count(*) from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()
           and query like 'select ballot_partition_attach%'",
    )
    .await;
    // Its session ends once the attach notices the client gone.
    let started = Instant::now();
    while count(
        &pool,
        "select count(*) from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()
           and backend_type = 'client backend' and state <> 'idle'",
    )
    .await
        > 0
    {
        assert!(started.elapsed() < Duration::from_secs(120));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (what, sql, expected) in [
        ("ballots", "select count(*) from ballots", 0),
        ("events", "select count(*) from ballot_events", 0),
        ("partitions", "select count(*) from ballot_partitions", 0),
        (
            "events aside",
            "select count(*) from ballot_event_asides",
            1,
        ),
    ] {
        assert_eq!(count(&pool, sql).await, expected, "{what}");
    }

    let done = import_kind(&url, &kind, &path).output().unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(stdout.contains("100,000 ballots issued"), "{stdout}");
    assert_eq!(
        count(
            &pool,
            "select count(*) from ballots where id >= (1::bigint << 40)"
        )
        .await,
        rows
    );
    assert_eq!(
        count(&pool, "select count(*) from ballot_events").await,
        2 * rows
    );
    assert_eq!(
        count(
            &pool,
            r"select count(*) from pg_class where relname like 'ballot\_events\_aside\_%'"
        )
        .await
            + count(&pool, "select count(*) from ballot_event_asides").await,
        0,
        "the events left aside were swept"
    );
    std::fs::remove_file(path).unwrap();
}

#[sqlx::test(migrator = "app::state::MIGRATOR")]
async fn the_barcode_commands_round_trip(pool: PgPool) {
    drop(pool);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ballot-tracker"))
            .args(args)
            .output()
            .unwrap()
    };
    let encoded = run(&["imb", "encode", "01234567094987654321", "01234567891"]);
    assert!(encoded.status.success());
    let bars = String::from_utf8(encoded.stdout).unwrap();
    assert_eq!(
        bars.trim(),
        "AADTFFDFTDADTAADAATFDTDDAAADDTDTTDAFADADDDTFFFDDTTTADFAAADFTDAADA"
    );
    let decoded = run(&["imb", "decode", bars.trim()]);
    let text = String::from_utf8(decoded.stdout).unwrap();
    assert!(
        text.contains("tracking code: 01234567094987654321"),
        "{text}"
    );
    assert!(text.contains("mailer id 567094"), "{text}");
    let bad = run(&["imb", "encode", "0523456709498765432"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("TRACK_STRING_BAD_LENGTH"));
}
