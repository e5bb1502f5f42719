//! The events of a bulk load (an empty database), written on a second core.
//!
//! One PostgreSQL backend runs on one core, and `COPY` into the events with the build of their
//! keys afterwards is half of a bulk load. So while the load's transaction fills voters, ballots
//! and subscriptions, a second transaction on a connection of its own copies the events into
//! staging tables shaped like the events' partitions, builds the same keys and indexes on them
//! and commits. The load's transaction then swaps them in for the empty partitions (detach,
//! drop, rename, attach) and checks every event's ballot before it commits: until then nobody
//! sees an event, and a failed load still leaves nothing behind but staging tables, which the
//! loader drops — or the next load, when the process died.
//!
//! The demo's ballots take their ids from `ballots_id_seq`, below 2^40, so their events live in
//! `ballot_events_0`, the events' partition for those ids, itself hash-partitioned by ballot in
//! sixteen (migration `20261206000003`): its partitions are the ones staged and swapped.

use anyhow::Context;
use app::copy::CopyBuffer;
use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;

/// Staging tables are named `demo_stage_<backend pid>`, and `…_<n>` for its partitions.
const PREFIX: &str = "demo_stage_";

/// How many chunks of events the load's transaction may get ahead of the staging
/// transaction: the voters and ballots of a chunk take less time to copy than its events, and
/// the load's transaction then builds their indexes while the events are still copied. About
/// 30 MB of `COPY` text a chunk.
const AHEAD: usize = 8;

/// A staging transaction that is taking chunks of events.
pub struct EventStage {
    pub table: String,
    /// Closed when the last chunk is sent, so the staging transaction builds its keys while
    /// the load's transaction builds its own.
    chunks: Option<mpsc::Sender<CopyBuffer>>,
    task: tokio::task::JoinHandle<anyhow::Result<Staged>>,
}

/// Committed staging tables, each standing in for a partition of the events.
pub struct Staged {
    /// (partition, staging table) pairs.
    tables: Vec<(String, String)>,
}

impl EventStage {
    /// Drops what dead loads left, creates the staging tables in a new transaction and starts
    /// copying chunks into them as they arrive.
    pub async fn begin(pool: &PgPool) -> anyhow::Result<Self> {
        let mut tx = pool.begin().await?;
        drop_leftovers(&mut tx).await?;
        let pid: i32 = sqlx::query_scalar("select pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await?;
        // In the events' own schema, whatever the search path says.
        let schema: String = sqlx::query_scalar(
            "select quote_ident(n.nspname) from pg_class c
             join pg_namespace n on n.oid = c.relnamespace
             where c.oid = 'ballot_events_0'::regclass",
        )
        .fetch_one(&mut *tx)
        .await?;
        let table = format!("{schema}.{PREFIX}{pid}");
        sqlx::query(&format!(
            "create table {table} (like ballot_events_0 including defaults including constraints)
             partition by hash (ballot_id)"
        ))
        .execute(&mut *tx)
        .await?;
        let partitions: Vec<(String, String)> = sqlx::query_as(
            "select c.oid::regclass::text, pg_get_expr(c.relpartbound, c.oid)
             from pg_inherits i join pg_class c on c.oid = i.inhrelid
             where i.inhparent = 'ballot_events_0'::regclass
             order by c.relname",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut tables = Vec::with_capacity(partitions.len());
        for (n, (partition, bound)) in partitions.into_iter().enumerate() {
            let staged = format!("{table}_{n}");
            sqlx::query(&format!(
                "create table {staged} partition of {table} {bound}"
            ))
            .execute(&mut *tx)
            .await?;
            tables.push((partition, staged));
        }
        // Default privileges gave the app's role the staging tables; they are nobody's but
        // the loader's until the swap gives each its partition's grants.
        for staged in std::iter::once(&table).chain(tables.iter().map(|(_, t)| t)) {
            for revoke in privileges(&mut tx, staged, "revoke", staged).await? {
                sqlx::query(&revoke).execute(&mut *tx).await?;
            }
        }
        let (chunks, arriving) = mpsc::channel(AHEAD);
        let task = tokio::spawn(fill(tx, table.clone(), tables, arriving));
        Ok(Self {
            table,
            chunks: Some(chunks),
            task,
        })
    }

    /// Hands a chunk of events to the staging transaction; false when it has stopped (its
    /// error comes from [`EventStage::finish`]).
    pub async fn send(&self, events: CopyBuffer) -> bool {
        match &self.chunks {
            Some(chunks) => chunks.send(events).await.is_ok(),
            None => false,
        }
    }

    /// No more chunks: the staging transaction goes on to build its keys.
    pub fn close(&mut self) {
        self.chunks = None;
    }

    /// Waits for the staging transaction to finish: every chunk copied, the keys and indexes
    /// built and the staging tables committed.
    pub async fn finish(mut self) -> anyhow::Result<Staged> {
        self.close();
        self.task
            .await
            .context("the events' staging task stopped")?
    }

    /// After a failed load: lets the staging transaction end (it has no more chunks) and drops
    /// its tables if it committed them. It is not aborted: an abort landing while its commit is
    /// on the wire would leave committed tables that nobody knows of.
    pub async fn abandon(self, pool: &PgPool) {
        if let Ok(staged) = self.finish().await {
            staged.discard(pool).await;
        }
    }
}

async fn fill(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    table: String,
    tables: Vec<(String, String)>,
    mut arriving: mpsc::Receiver<CopyBuffer>,
) -> anyhow::Result<Staged> {
    while let Some(mut events) = arriving.recv().await {
        events.flush(&mut tx).await?;
    }
    build_keys(&mut tx, &table).await?;
    // Each partition keeps its indexes and constraints as a table of its own.
    for (_, staged) in &tables {
        sqlx::query(&format!("alter table {table} detach partition {staged}"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(&format!("drop table {table}"))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Staged { tables })
}

/// The events' primary and unique keys and secondary indexes, made again on the staging
/// table, which makes them on each of its partitions: `ATTACH PARTITION` then takes each
/// partition's matching index as its own instead of building one.
async fn build_keys(conn: &mut PgConnection, table: &str) -> Result<(), sqlx::Error> {
    let keys: Vec<String> = sqlx::query_scalar(
        "select pg_get_constraintdef(c.oid) from pg_constraint c
         where c.conrelid = 'ballot_events_0'::regclass and c.contype in ('p', 'u')
         order by c.contype, c.conname",
    )
    .fetch_all(&mut *conn)
    .await?;
    for key in keys {
        sqlx::query(&format!("alter table {table} add {key}"))
            .execute(&mut *conn)
            .await?;
    }
    let indexes: Vec<String> = sqlx::query_scalar(
        "select regexp_replace(pg_get_indexdef(i.indexrelid),
                               '^(CREATE (UNIQUE )?INDEX) \\S+ ON ONLY \\S+ ', '\\1 ON ' || $1 || ' ')
         from pg_index i
         where i.indrelid = 'ballot_events_0'::regclass
           and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)
         order by i.indexrelid",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    for index in indexes {
        sqlx::query(&index).execute(&mut *conn).await?;
    }
    Ok(())
}

impl Staged {
    /// Inside the load's transaction: puts each staging table in the place of its empty
    /// partition, with the partition's name, its indexes' names, row-level security policies
    /// and grants. `ATTACH PARTITION` checks every row against the partition's bound and
    /// clones the events' row triggers.
    pub async fn swap_in(&self, tx: &mut PgConnection) -> anyhow::Result<()> {
        for (partition, staged) in &self.tables {
            swap_one(tx, partition, staged)
                .await
                .with_context(|| format!("putting {staged} in the place of {partition}"))?;
        }
        Ok(())
    }

    /// After a failed load, on any connection: the committed staging tables go.
    pub async fn discard(&self, pool: &PgPool) {
        for (_, staged) in &self.tables {
            let _ = sqlx::query(&format!("drop table if exists {staged}"))
                .execute(pool)
                .await;
        }
    }
}

async fn swap_one(tx: &mut PgConnection, partition: &str, staged: &str) -> anyhow::Result<()> {
    let (bound, rls, force_rls, owner): (String, bool, bool, String) = sqlx::query_as(
        "select pg_get_expr(relpartbound, oid), relrowsecurity, relforcerowsecurity,
                quote_ident(pg_get_userbyid(relowner))
         from pg_class where oid = $1::regclass",
    )
    .bind(partition)
    .fetch_one(&mut *tx)
    .await?;
    // Each of the partition's indexes by the events' index it belongs to.
    let index_names: Vec<(String, String)> = sqlx::query_as(INDEXES_BY_PARENT)
        .bind(partition)
        .fetch_all(&mut *tx)
        .await?;
    let policies: Vec<String> = sqlx::query_scalar(
        "select format('create policy %I on %s as %s for %s to %s', p.polname, $2,
                       case when p.polpermissive then 'permissive' else 'restrictive' end,
                       case p.polcmd when 'r' then 'select' when 'a' then 'insert'
                            when 'w' then 'update' when 'd' then 'delete' else 'all' end,
                       (select string_agg(case when r = 0 then 'public'
                                               else quote_ident(pg_get_userbyid(r)) end, ', ')
                        from unnest(p.polroles) r))
                || coalesce(' using (' || pg_get_expr(p.polqual, p.polrelid) || ')', '')
                || coalesce(' with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', '')
         from pg_policy p where p.polrelid = $1::regclass order by p.polname",
    )
    .bind(partition)
    .bind(partition)
    .fetch_all(&mut *tx)
    .await?;
    // The staging table has no grants of its own: `EventStage::begin` revoked them.
    let grants = privileges(tx, partition, "grant", partition).await?;

    let mut statements = vec![
        format!("alter table ballot_events_0 detach partition {partition}"),
        format!("drop table {partition}"),
        format!("alter table {staged} rename to {}", unqualified(partition)),
        format!("alter table ballot_events_0 attach partition {partition} {bound}"),
        format!("alter table {partition} owner to {owner}"),
    ];
    if rls {
        statements.push(format!("alter table {partition} enable row level security"));
    }
    if force_rls {
        statements.push(format!("alter table {partition} force row level security"));
    }
    statements.extend(grants);
    statements.extend(policies);
    for statement in statements {
        sqlx::query(&statement).execute(&mut *tx).await?;
    }
    // The attached indexes still carry the staging names.
    let attached: Vec<(String, String)> = sqlx::query_as(INDEXES_BY_PARENT)
        .bind(partition)
        .fetch_all(&mut *tx)
        .await?;
    for (parent, name) in attached {
        let Some((_, old)) = index_names.iter().find(|(p, _)| *p == parent) else {
            anyhow::bail!("the events' index {parent} had no index on {partition}");
        };
        if *old != name {
            sqlx::query(&format!("alter index {name} rename to {old}"))
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// (parent index, index) for each index of the table `$1` that belongs to an index of its
/// partitioned table.
const INDEXES_BY_PARENT: &str = "select h.inhparent::regclass::text, c.relname::text
     from pg_index x
     join pg_inherits h on h.inhrelid = x.indexrelid
     join pg_class c on c.oid = x.indexrelid
     where x.indrelid = $1::regclass
     order by 1";

/// `verb` (`grant` or `revoke`) statements on the table named `target` for every privilege the
/// table `source` gives to a role other than its owner.
async fn privileges(
    conn: &mut PgConnection,
    source: &str,
    verb: &str,
    target: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(GRANTS)
        .bind(source)
        .bind(verb)
        .bind(target)
        .fetch_all(conn)
        .await
}

const GRANTS: &str = "select format('%s %s on %s %s %s%s', $2, a.privilege_type, $3,
                   case when $2 = 'grant' then 'to' else 'from' end,
                   case when a.grantee = 0 then 'public'
                        else quote_ident(pg_get_userbyid(a.grantee)) end,
                   case when $2 = 'grant' and a.is_grantable then ' with grant option'
                        when $2 = 'revoke' then ' cascade' else '' end)
     from pg_class c, aclexplode(c.relacl) a
     where c.oid = $1::regclass and a.grantee <> c.relowner
     order by 1";

fn unqualified(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Drops the staging tables of loads whose connection is gone (a killed process): their
/// transaction committed, the load's did not. A pid is reused in time; this connection's own
/// counts as gone, since nothing of its is committed yet.
async fn drop_leftovers(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let leftovers: Vec<String> = sqlx::query_scalar(
        "select c.oid::regclass::text from pg_class c
         where c.relkind in ('r', 'p')
           and c.relnamespace = (select relnamespace from pg_class
                                 where oid = 'ballot_events_0'::regclass)
           and c.relname ~ ('^' || $1 || '[0-9]+(_[0-9]+)?$')
           and (regexp_match(c.relname, '^' || $1 || '([0-9]+)'))[1]::int
               not in (select pid from pg_stat_activity
                       where pid is not null and pid <> pg_backend_pid())",
    )
    .bind(PREFIX)
    .fetch_all(&mut *conn)
    .await?;
    for table in leftovers {
        sqlx::query(&format!("drop table if exists {table}"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
