-- Partitions of their own: one county's ballots of one election, in a range of ids of their own
-- above 2^40, with their events in the same range of `ballot_events` (20261206000003; README
-- design note (c), Partitioning). A county's first ELG file of an election fills the two tables
-- with COPY while no one else can see them, and attaches them in its own transaction.
--
-- The serving app's role owns nothing and may not change the schema, so the two steps that do
-- are functions owned by the schema's owner (SECURITY DEFINER), which make only this shape of
-- table, for the county the calling transaction works for (`app.county`).

create table ballot_partitions (
    -- Partition k holds the ids [2^40 + (k-1)·2^28, 2^40 + k·2^28): 268 million ballots, and room
    -- for a million partitions.
    id            integer primary key check (id between 1 and 1000000),
    county_fips   text not null references counties,
    election_id   bigint not null references elections,
    first_id      bigint not null,
    end_id        bigint not null,
    -- The next id for a ballot of the pair.
    next_id       bigint not null,
    created_at    timestamptz not null default now(),
    attached_at   timestamptz,
    unique (county_fips, election_id),
    check (first_id <= next_id and next_id <= end_id)
);
create sequence ballot_partitions_id_seq as integer owned by ballot_partitions.id;
select county_scope_like('ballots_0', 'ballot_partitions');
-- The app reads the record; only the owner's functions write it (default privileges gave the app
-- everything on new tables and sequences).
revoke all on ballot_partitions, ballot_partitions_id_seq from ballot_tracker_app;
grant select on ballot_partitions to ballot_tracker_app;

-- A partition is made and attached in one transaction, or not at all: a transaction that made
-- one commits only if it attached it, so no one ever sees its tables unattached (without their
-- county's policy, open to the making county's COPY).
create function ballot_partition_attached() returns trigger language plpgsql as $$
begin
    if not exists (select from ballot_partitions where id = new.id and attached_at is not null) then
        raise exception 'partition % of county % was made but not attached', new.id, new.county_fips
            using errcode = 'invalid_transaction_state';
    end if;
    return null;
end
$$;
create constraint trigger ballot_partitions_attached after insert on ballot_partitions
    deferrable initially deferred for each row execute function ballot_partition_attached();

-- One county's ballots of one election are all in `ballots_0` or all in their partition: the
-- unique indexes of each say the rules only within it. Making a partition and writing a pair's
-- ballots take the same lock on the pair (exclusive and shared), so neither misses the other.
create function ballot_pair_lock_key(county text, election bigint) returns bigint
language sql immutable as $$ select hashtextextended('ballot pair ' || county || ' ' || election, 0) $$;

-- What making and attaching a partition both ask first: the calling transaction works for the
-- county, holds the pair's lock, and the pair has no ballot in `ballots_0`.
create function ballot_partition_claim(county text, election bigint) returns void
language plpgsql as $$
begin
    if coalesce(current_setting('app.county', true), '') not in ('*', county) then
        raise exception 'this transaction does not work for county %', county
            using errcode = 'insufficient_privilege';
    end if;
    perform pg_advisory_xact_lock(ballot_pair_lock_key(county, election));
    if exists (select 1 from ballots where county_fips = county and election_id = election) then
        raise exception 'county % has ballots of election % already', county, election
            using errcode = 'unique_violation';
    end if;
end
$$;


-- Makes the two empty tables of a new partition, shaped like `ballots_0` and `ballot_events_0`
-- (columns, defaults, CHECKs, grants) but without indexes, which are built once they are
-- filled, and not attached. Row-level security comes with attaching: PostgreSQL refuses COPY
-- into a table with a policy, and until then no one but the making transaction can see the
-- tables. Returns the partition's number k: the tables are `ballots_<k>` and
-- `ballot_events_<k>`. Refuses a pair that has ballots already: all of a county's ballots of an
-- election are in one partition, which is what lets each partition's own unique indexes say what
-- the tables' said.
create function ballot_partition_make(county text, election bigint) returns integer
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    k integer;
    t text;
begin
    perform ballot_partition_claim(county, election);
    if not exists (select from elections e where e.id = election
                   and (e.county_fips is null or e.county_fips = county)) then
        raise exception 'county % has no election %', county, election
            using errcode = 'foreign_key_violation';
    end if;
    -- From a sequence: row-level security shows a county's transaction its own partitions only.
    k := nextval('ballot_partitions_id_seq');
    insert into ballot_partitions (id, county_fips, election_id, first_id, end_id, next_id)
    select k, county, election, lo, lo + (1::bigint << 28), lo
    from (select (1::bigint << 40) + (k - 1)::bigint * (1::bigint << 28) as lo) r;
    execute format('create table %I (like ballots_0 including defaults including constraints including generated)',
                   'ballots_' || k);
    execute format('create table %I (like ballot_events_0 including defaults including constraints)',
                   'ballot_events_' || k);
    -- The app fills them (COPY) and reads them back before attaching; afterwards it reaches them
    -- only through the parents, whose triggers and policies then apply.
    foreach t in array array['ballots_' || k, 'ballot_events_' || k] loop
        execute format('revoke all on %I from ballot_tracker_app', t);
        execute format('grant select, insert on %I to ballot_tracker_app', t);
    end loop;
    return k;
end
$$;

-- Builds partition k's keys and indexes as `ballots_0` and `ballot_events_0` have them (each in
-- one sorted pass, named `ballots_<k>_…`), checks every row's references as the tables' statement
-- triggers do for inserted rows, pins the tables to their county, election and range of ids,
-- gives them row-level security, and attaches them. ATTACH reads no row: the CHECK of the range
-- already says it.
create function ballot_partition_attach(k integer) returns void
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    p ballot_partitions;
    pair record;
    d record;
    missing record;
    r record;
    t text;
    ballots_k constant text := 'ballots_' || k;
    events_k constant text := 'ballot_events_' || k;
begin
    select * into strict p from ballot_partitions where id = k and attached_at is null for update;
    perform ballot_partition_claim(p.county_fips, p.election_id);

    for pair in select * from (values ('ballots', 'ballots_0', ballots_k, 'id'),
                                      ('ballot_events', 'ballot_events_0', events_k, 'ballot_id'))
                as v(parent, model, target, key) loop
        for d in select c.conname::text as name, pg_get_constraintdef(c.oid) as def
                 from pg_constraint c
                 where c.conrelid = pair.model::regclass and c.contype in ('p', 'u')
                 order by c.contype, c.conname loop
            execute format('alter table %I add constraint %I %s', pair.target,
                           pair.target || substr(d.name, length(pair.parent) + 1), d.def);
        end loop;
        for d in select x.relname::text as name, pg_get_indexdef(i.indexrelid) as def
                 from pg_index i join pg_class x on x.oid = i.indexrelid
                 where i.indrelid = pair.model::regclass
                   and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)
                 order by x.relname loop
            execute regexp_replace(d.def, '^(CREATE (UNIQUE )?INDEX) \S+ ON (ONLY )?\S+ ',
                                   '\1 ' || quote_ident(pair.target || substr(d.name, length(pair.parent) + 1))
                                   || ' ON ' || quote_ident(pair.target) || ' ');
        end loop;
        execute format('alter table %I add constraint %I check (%I >= %s and %I < %s)', pair.target,
                       pair.target || '_range', pair.key, p.first_id, pair.key, p.end_id);
    end loop;
    execute format('alter table %I add constraint %I check (county_fips = %L and election_id = %s)',
                   ballots_k, ballots_k || '_pair', p.county_fips, p.election_id);
    execute format('alter table %I add constraint %I check (county_fips = %L)',
                   events_k, events_k || '_county', p.county_fips);

    -- The references the statement triggers check on insert (20261203000004, …05).
    execute format('select n.voter_id from %I n where not exists
                      (select from voters v where v.id = n.voter_id and v.county_fips = n.county_fips)
                    limit 1', ballots_k) into missing;
    if missing is not null then
        raise exception 'insert on table "ballots" violates foreign key constraint "ballots_voter_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (voter_id, county_fips)=(%s, %s) is not present in table "voters".',
                                  missing.voter_id, p.county_fips);
    end if;
    if not exists (select from elections e where e.id = p.election_id) then
        raise exception 'insert on table "ballots" violates foreign key constraint "ballots_election_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (election_id)=(%s) is not present in table "elections".', p.election_id);
    end if;
    execute format('select n.replaces_ballot_id as id from %I n where n.replaces_ballot_id is not null
                      and not exists (select from %I b where b.id = n.replaces_ballot_id)
                    limit 1', ballots_k, ballots_k) into missing;
    if missing is not null then
        raise exception 'insert on table "ballots" violates foreign key constraint "ballots_replaces_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (replaces_ballot_id)=(%s) is not present in table "ballots".', missing.id);
    end if;
    execute format('select n.ballot_id from %I n where not exists
                      (select from %I b where b.id = n.ballot_id) limit 1', events_k, ballots_k)
        into missing;
    if missing is not null then
        raise exception 'insert on table "ballot_events" violates foreign key constraint "ballot_events_ballot_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (ballot_id, county_fips)=(%s, %s) is not present in table "ballots".',
                                  missing.ballot_id, p.county_fips);
    end if;
    -- Of the county's own (a state administrator's account has none): what the insert trigger,
    -- run under the county's policies, would see.
    for r in select * from (values ('import_id', 'imports', 'ballot_events_import_fkey'),
                                   ('actor_user_id', 'admin_users', 'ballot_events_actor_fkey'),
                                   ('api_token_id', 'api_tokens', 'ballot_events_api_token_fkey'))
             as v(col, tbl, fkey) loop
        execute format('select n.%I as id from %I n where n.%I is not null
                          and not exists (select from %I x where x.id = n.%I
                                          and (x.county_fips is null or x.county_fips = %L))
                        limit 1',
                       r.col, events_k, r.col, r.tbl, r.col, p.county_fips) into missing;
        if missing is not null then
            raise exception 'insert on table "ballot_events" violates foreign key constraint "%"', r.fkey
                using errcode = 'foreign_key_violation',
                      detail = format('Key (%s)=(%s) is not present in table "%s".', r.col, missing.id, r.tbl);
        end if;
    end loop;

    perform county_scope_like('ballots_0', ballots_k::regclass);
    perform county_scope_like('ballot_events_0', events_k::regclass);
    foreach t in array array[ballots_k, events_k] loop
        execute format('revoke all on %I from ballot_tracker_app', t);
    end loop;
    -- As `ballots_0` and `ballot_events_0` have them, for statements that name the partition.
    execute format('create trigger ballots_never_deleted before delete or truncate on %I
                    for each statement execute function refuse_removal()', ballots_k);
    execute format('create trigger ballot_events_no_truncate before truncate on %I
                    for each statement execute function refuse_change()', events_k);
    execute format('alter table ballots attach partition %I for values from (%s) to (%s)',
                   ballots_k, p.first_id, p.end_id);
    execute format('alter table ballot_events attach partition %I for values from (%s) to (%s)',
                   events_k, p.first_id, p.end_id);
    update ballot_partitions
    set attached_at = now(),
        next_id = greatest(next_id, coalesce((select max(b.id) + 1 from ballots b
                                              where b.id >= p.first_id and b.id < p.end_id), p.first_id))
    where id = k;
end
$$;

-- The app writes ballots and events through the parents only, where the reference checks and
-- the refusals of DELETE and TRUNCATE are (statement triggers fire for the table a statement
-- names): it loses its direct rights on the first partitions, as `attach` takes them from later
-- ones.
do $$
declare
    t regclass;
begin
    for t in select 'ballots_0'::regclass union all select 'ballot_events_0'::regclass
             union all select inhrelid::regclass from pg_inherits
                       where inhparent = 'ballot_events_0'::regclass loop
        execute format('revoke all on %s from ballot_tracker_app', t);
    end loop;
end
$$;

-- A pair's ballots written one statement at a time (the spine) go to `ballots_0` while their ids
-- come from `ballots_id_seq`: refused for a pair that has a partition of its own, under the
-- pair's lock (shared), so that a partition being made waits for them or they for it.
create or replace function ballots_check_references() returns trigger language plpgsql as $$
declare
    missing record;
begin
    execute 'select n.voter_id, n.county_fips from new_ballots n
             where not exists (select from voters v
                               where v.id = n.voter_id and v.county_fips = n.county_fips)
             limit 1' into missing;
    if missing is not null then
        raise exception 'insert on table "ballots" violates foreign key constraint "ballots_voter_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (voter_id, county_fips)=(%s, %s) is not present in table "voters".',
                                  missing.voter_id, missing.county_fips);
    end if;
    execute 'select distinct n.election_id as id from new_ballots n
             where not exists (select from elections e where e.id = n.election_id) limit 1'
        into missing;
    if missing is not null then
        raise exception 'insert on table "ballots" violates foreign key constraint "ballots_election_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (election_id)=(%s) is not present in table "elections".', missing.id);
    end if;
    execute 'select n.replaces_ballot_id as id from new_ballots n
             where n.replaces_ballot_id is not null
               and not exists (select from ballots b where b.id = n.replaces_ballot_id) limit 1'
        into missing;
    if missing is not null then
        raise exception 'insert on table "ballots" violates foreign key constraint "ballots_replaces_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (replaces_ballot_id)=(%s) is not present in table "ballots".', missing.id);
    end if;
    execute 'select count(pg_advisory_xact_lock_shared(ballot_pair_lock_key(county_fips, election_id)))
             from (select distinct county_fips, election_id from new_ballots where id < (1::bigint << 40)) n';
    execute 'select n.county_fips, n.election_id from new_ballots n
             join ballot_partitions p on p.county_fips = n.county_fips and p.election_id = n.election_id
             where n.id < (1::bigint << 40) limit 1' into missing;
    if missing is not null then
        raise exception 'county % has a partition of its own for election %: its ballots go there',
                        missing.county_fips, missing.election_id
            using errcode = 'check_violation';
    end if;
    return null;
end
$$;

revoke all on function ballot_partition_make(text, bigint) from public;
revoke all on function ballot_partition_attach(integer) from public;
grant execute on function ballot_partition_make(text, bigint) to ballot_tracker_app;
grant execute on function ballot_partition_attach(integer) to ballot_tracker_app;
