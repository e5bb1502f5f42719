-- A county's first ELG file writes its events on a connection of its own, beside the ballots
-- (README design note (c), Partitioning). A million ballots have two million events; written,
-- indexed and checked on the import's one connection they were a third of the load, while the
-- machine's other core waited. A table made in the import's transaction is seen by no other
-- connection, so the events go to a table made and filled in a transaction of its own, which
-- commits before the import's attaches it: `ballot_events_aside_<k>`, for partition k.
--
-- Until it is attached, the aside table is committed and no one's: the app's role may only
-- insert into it (COPY) in the transaction that made it, and never read it, so no county sees
-- another's rows; that transaction closes it before it commits, and the attach checks every row
-- as it checks the partition's own. A load that does not commit (killed, refused,
-- blocked by a guard) leaves its aside table behind. The transaction that makes partition k
-- holds a shared lock on k's aside for as long as it runs, so the sweep, which takes the lock
-- exclusively and without waiting, tells a leftover (no one holds it) from a load in progress,
-- and drops it. Every first load sweeps before it makes its partition, and the app sweeps after
-- a first load that did not commit.

create table ballot_event_asides (
    -- The partition's number k.
    id          integer primary key,
    county_fips text not null references counties,
    created_at  timestamptz not null default now(),
    -- The transaction that made it, which alone may fill and close it.
    made_in     xid8 not null default pg_current_xact_id(),
    -- The imports, accounts and tokens the events name, once they are all written and the
    -- table closed (`ballot_events_aside_index`): the attach checks these instead of reading
    -- every event, and attaches no table that was not closed.
    import_ids  bigint[],
    actor_ids   bigint[],
    token_ids   bigint[]
);
revoke all on ballot_event_asides from ballot_tracker_app;
-- As every table with a county: the owner's functions, too, see the calling county's records
-- only (the sweep sees every county's).
select county_scope_like('ballots_0', 'ballot_event_asides');

create function ballot_aside_lock_key(k integer) returns bigint
language sql immutable as $$ select hashtextextended('ballot events aside ' || k, 0) $$;

-- Partition k's first ballot id: 2^40 + (k-1)·2^28 (its range is 2^28 ids).
create function ballot_partition_first_id(k integer) returns bigint
language sql immutable as $$ select (1::bigint << 40) + (k - 1)::bigint * (1::bigint << 28) $$;

-- Refuses a transaction that does not work for the county (`app.county`; '*' works for all).
create function ballot_works_for(county text) returns void
language plpgsql stable as $$
begin
    if coalesce(current_setting('app.county', true), '') not in ('*', county) then
        raise exception 'this transaction does not work for county %', county
            using errcode = 'insufficient_privilege';
    end if;
end
$$;

-- Makes an empty events table for partition k of the county, `name`: shaped like
-- `ballot_events_0` (columns, defaults, CHECKs), with the CHECKs of k's range and the county,
-- which COPY checks row by row (ATTACH then reads no row); without indexes. The partition's own
-- and its aside table are made alike. The owner's functions call it.
create function ballot_events_table_make(name text, k integer, county text) returns void
language plpgsql set search_path = public, pg_temp as $$
declare
    lo constant bigint := ballot_partition_first_id(k);
begin
    execute format('create table %I (like ballot_events_0 including defaults including constraints)',
                   name);
    execute format('alter table %I add constraint %I check (ballot_id >= %s and ballot_id < %s),
                                   add constraint %I check (county_fips = %L)',
                   name, 'ballot_events_' || k || '_range', lo, lo + (1::bigint << 28),
                   'ballot_events_' || k || '_county', county);
end
$$;
revoke all on function ballot_events_table_make(text, integer, text) from public;

-- Builds `model`'s keys and indexes on `target`, each named `prefix` and the model's name past
-- `parent`, as the partitions have them (each in one sorted pass once the table is filled);
-- those `target` has already are left as they are. The owner's functions call it.
create function ballot_partition_build(parent text, model regclass, target text, prefix text)
returns void
language plpgsql set search_path = public, pg_temp as $$
declare
    d record;
    name text;
begin
    for d in select c.conname::text as name, pg_get_constraintdef(c.oid) as def
             from pg_constraint c
             where c.conrelid = model and c.contype in ('p', 'u')
             order by c.contype, c.conname loop
        name := prefix || substr(d.name, length(parent) + 1);
        continue when exists (select from pg_constraint c
                              where c.conrelid = target::regclass and c.conname = name);
        execute format('alter table %I add constraint %I %s', target, name, d.def);
    end loop;
    for d in select x.relname::text as name, pg_get_indexdef(i.indexrelid) as def
             from pg_index i join pg_class x on x.oid = i.indexrelid
             where i.indrelid = model
               and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)
             order by x.relname loop
        name := prefix || substr(d.name, length(parent) + 1);
        -- Looked for among the target's own indexes (not by name alone: the caller's temporary
        -- tables are on the search path).
        continue when exists (select from pg_index i join pg_class x on x.oid = i.indexrelid
                              where i.indrelid = target::regclass and x.relname = name);
        execute regexp_replace(d.def, '^(CREATE (UNIQUE )?INDEX) \S+ ON (ONLY )?\S+ ',
                               '\1 ' || quote_ident(name) || ' ON ' || quote_ident(target) || ' ');
    end loop;
end
$$;
revoke all on function ballot_partition_build(text, regclass, text, text) from public;

-- Drops the aside tables of loads that did not commit: those whose lock no transaction holds.
-- Returns how many.
create function ballot_events_aside_sweep() returns integer
language plpgsql security definer set search_path = public, pg_temp set app.county = '*' as $$
declare
    r record;
    t regclass;
    n integer := 0;
begin
    for r in select id from ballot_event_asides order by id loop
        continue when not pg_try_advisory_xact_lock(ballot_aside_lock_key(r.id));
        -- Attached (and its record deleted) since the list was read?
        continue when not exists (select from ballot_event_asides where id = r.id);
        t := to_regclass('public.' || quote_ident('ballot_events_aside_' || r.id));
        if t is not null and not exists (select from pg_inherits where inhrelid = t) then
            -- Not behind someone else's lock (a dump, say): the next sweep takes it.
            begin
                execute format('lock table %s in access exclusive mode nowait', t);
            exception when lock_not_available then
                continue;
            end;
            execute format('drop table %s', t);
        end if;
        delete from ballot_event_asides where id = r.id;
        n := n + 1;
    end loop;
    return n;
end
$$;

-- Makes partition k's aside events table, empty, for the county: shaped as `ballot_events_k`
-- is (columns, defaults, CHECKs, its range and county), without indexes. Called on a
-- connection of its own, in a transaction that then fills it and commits; k is a partition the
-- county's import has made and not yet committed (seen by no other transaction).
create function ballot_events_aside_make(k integer, county text) returns void
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    aside constant text := 'ballot_events_aside_' || k;
begin
    perform ballot_works_for(county);
    if k is null or k < 1 or k > (select last_value from ballot_partitions_id_seq)
       or exists (select from ballot_partitions where id = k) then
        raise exception 'no partition % is being made', k using errcode = 'invalid_parameter_value';
    end if;
    perform ballot_events_table_make(aside, k, county);
    -- Filled by COPY; read by no one but the owner's functions.
    execute format('revoke all on %I from ballot_tracker_app', aside);
    execute format('grant insert on %I to ballot_tracker_app', aside);
    insert into ballot_event_asides (id, county_fips) values (k, county);
end
$$;

-- Once the aside events table is filled: closes it to further rows, builds its keys and
-- indexes, named as partition k's will be, and keeps what the events name, beside the ballots'
-- indexes (`ballot_partition_index`), on its own connection.
create function ballot_events_aside_index(k integer) returns void
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    a ballot_event_asides;
    aside constant text := 'ballot_events_aside_' || k;
begin
    select * into a from ballot_event_asides where id = k;
    if not found then
        raise exception 'partition % has no events written aside', k
            using errcode = 'invalid_parameter_value';
    end if;
    perform ballot_works_for(a.county_fips);
    -- Only the transaction that made the table has seen it, so its rows are all its own; once
    -- this commits, no one may add to them.
    if a.made_in <> pg_current_xact_id() then
        raise exception 'the events written aside for partition % are closed by the transaction that made them', k
            using errcode = 'insufficient_privilege';
    end if;
    execute format('revoke insert on %I from ballot_tracker_app', aside);
    perform ballot_partition_build('ballot_events', 'ballot_events_0', aside, 'ballot_events_' || k);
    execute format('select coalesce(array_agg(distinct import_id) filter (where import_id is not null), ''{}''),
                           coalesce(array_agg(distinct actor_user_id) filter (where actor_user_id is not null), ''{}''),
                           coalesce(array_agg(distinct api_token_id) filter (where api_token_id is not null), ''{}'')
                    from %I', aside)
        into a.import_ids, a.actor_ids, a.token_ids;
    update ballot_event_asides
    set import_ids = a.import_ids, actor_ids = a.actor_ids, token_ids = a.token_ids
    where id = k;
end
$$;

-- Builds partition k's ballots' keys and indexes, by the transaction that made it, before it
-- attaches it (so that the events' are built beside them).
create function ballot_partition_index(k integer) returns void
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    p ballot_partitions;
begin
    select * into strict p from ballot_partitions where id = k and attached_at is null;
    perform ballot_partition_claim(p.county_fips, p.election_id);
    perform ballot_partition_build('ballots', 'ballots_0', 'ballots_' || k, 'ballots_' || k);
end
$$;

-- As `20261207000001` made it, and: the partition's events may come from an aside table (made
-- alike, `ballot_events_table_make`); the leftovers of loads that did not commit are swept
-- first; the making transaction holds k's aside lock.
create or replace function ballot_partition_make(county text, election bigint) returns integer
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    k integer;
    lo bigint;
    hi bigint;
    t text;
begin
    perform ballot_partition_claim(county, election);
    if not exists (select from elections e where e.id = election
                   and (e.county_fips is null or e.county_fips = county)) then
        raise exception 'county % has no election %', county, election
            using errcode = 'foreign_key_violation';
    end if;
    perform ballot_events_aside_sweep();
    -- From a sequence: row-level security shows a county's transaction its own partitions only.
    k := nextval('ballot_partitions_id_seq');
    perform pg_advisory_xact_lock_shared(ballot_aside_lock_key(k));
    lo := ballot_partition_first_id(k);
    hi := lo + (1::bigint << 28);
    insert into ballot_partitions (id, county_fips, election_id, first_id, end_id, next_id)
    values (k, county, election, lo, hi, lo);
    execute format('create table %I (like ballots_0 including defaults including constraints including generated)',
                   'ballots_' || k);
    perform ballot_events_table_make('ballot_events_' || k, k, county);
    -- The partition's bounds and pair, checked row by row as COPY writes them (a table scan
    -- each, added afterwards); ATTACH then reads no row.
    execute format('alter table %I add constraint %I check (id >= %s and id < %s),
                                   add constraint %I check (county_fips = %L and election_id = %s)',
                   'ballots_' || k, 'ballots_' || k || '_range', lo, hi,
                   'ballots_' || k || '_pair', county, election);
    execute format('create sequence %I as bigint minvalue %s maxvalue %s start %s',
                   'ballot_ids_' || k, lo, hi - 1, lo);
    -- The app fills them (COPY) and reads them back before attaching; afterwards it reaches them
    -- only through the parents, whose triggers and policies then apply.
    foreach t in array array['ballots_' || k, 'ballot_events_' || k] loop
        execute format('revoke all on %I from ballot_tracker_app', t);
        execute format('grant select, insert on %I to ballot_tracker_app', t);
    end loop;
    return k;
end
$$;

-- As `20261207000001` made it (with `20261208000001`'s planning), and: events written aside
-- take the place of the partition's own (which must then be empty), with what they name
-- gathered as they were closed; the keys and indexes already built are kept; two checks read
-- less (below).
create or replace function ballot_partition_attach(k integer) returns void
language plpgsql security definer set search_path = public, pg_temp
set enable_nestloop = off set enable_seqscan = on as $$
declare
    p ballot_partitions;
    a ballot_event_asides;
    missing record;
    r record;
    t text;
    filled boolean;
    first_ballot bigint;
    last_ballot bigint;
    ballot_count bigint;
    first_named bigint;
    last_named bigint;
    orphan bigint;
    ballots_k constant text := 'ballots_' || k;
    events_k constant text := 'ballot_events_' || k;
begin
    select * into strict p from ballot_partitions where id = k and attached_at is null for update;
    perform ballot_partition_claim(p.county_fips, p.election_id);

    select * into a from ballot_event_asides where id = k;
    if not found and to_regclass('public.' || quote_ident('ballot_events_aside_' || k)) is not null then
        -- Another county's (row-level security hides its record), or committed but not in this
        -- transaction's snapshot (one that is not read committed).
        raise exception 'the events written aside for partition % are not this transaction''s to attach', k
            using errcode = 'insufficient_privilege';
    end if;
    if found then
        if a.county_fips <> p.county_fips then
            raise exception 'the events written aside for partition % are county %''s', k, a.county_fips
                using errcode = 'insufficient_privilege';
        end if;
        if a.import_ids is null then
            raise exception 'the events written aside for partition % were not closed', k
                using errcode = 'invalid_transaction_state';
        end if;
        execute format('select exists (select from %I)', events_k) into filled;
        if filled then
            raise exception 'partition % has events written both aside and in its own table', k
                using errcode = 'invalid_transaction_state';
        end if;
        execute format('drop table %I', events_k);
        execute format('alter table %I rename to %I', 'ballot_events_aside_' || k, events_k);
        delete from ballot_event_asides where id = k;
    end if;

    perform ballot_partition_build('ballots', 'ballots_0', ballots_k, ballots_k);
    perform ballot_partition_build('ballot_events', 'ballot_events_0', events_k, events_k);
    -- The CHECKs of the range and the pair came with the tables (`ballot_partition_make`,
    -- `ballot_events_aside_make`).

    -- The references the statement triggers check on insert (20261203000004, …05).
    execute format('select n.voter_id from %I n where not exists
                      (select from voters v where v.id = n.voter_id and v.county_fips = %L)
                    limit 1', ballots_k, p.county_fips) into missing;
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
    -- Few ballots replace another: those are read through the partial index, each looked up by
    -- its key (not a hash of every ballot, as the plan is without statistics of the new table).
    perform set_config('enable_seqscan', 'off', true);
    execute format('select n.replaces_ballot_id as id from %I n where n.replaces_ballot_id is not null
                      and (select count(*) from %I b where b.id = n.replaces_ballot_id) = 0
                    limit 1', ballots_k, ballots_k) into missing;
    perform set_config('enable_seqscan', 'on', true);
    if missing is not null then
        raise exception 'insert on table "ballots" violates foreign key constraint "ballots_replaces_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (replaces_ballot_id)=(%s) is not present in table "ballots".', missing.id);
    end if;
    -- A first load's ballots take the ids of their range in turn: when the ids are unique (the
    -- key is built) and as many as from the first to the last, every id between is a ballot,
    -- and the events' lowest and highest ballots (through their key) say the rest.
    execute format('select min(id), max(id), count(*) from %I', ballots_k)
        into first_ballot, last_ballot, ballot_count;
    execute format('select min(ballot_id), max(ballot_id) from %I', events_k)
        into first_named, last_named;
    if first_named is not null and ballot_count > 0 and last_ballot - first_ballot + 1 = ballot_count then
        orphan := case when first_named < first_ballot then first_named
                       when last_named > last_ballot then last_named end;
    elsif first_named is not null then
        execute format('select n.ballot_id from %I n where not exists
                          (select from %I b where b.id = n.ballot_id) limit 1', events_k, ballots_k)
            into orphan;
    end if;
    if orphan is not null then
        raise exception 'insert on table "ballot_events" violates foreign key constraint "ballot_events_ballot_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (ballot_id, county_fips)=(%s, %s) is not present in table "ballots".',
                                  orphan, p.county_fips);
    end if;
    -- Of the county's own (a state administrator's account has none): what the insert trigger,
    -- run under the county's policies, would see. The events name a handful of each: read
    -- once, or as their aside table was closed.
    if a.import_ids is not null then
        execute format('create temporary table %I on commit drop as
                          select unnest(%L::bigint[]) as import_id, null::bigint as actor_user_id,
                                 null::bigint as api_token_id
                          union all select null, unnest(%L::bigint[]), null
                          union all select null, null, unnest(%L::bigint[])',
                       events_k || '_refs', a.import_ids, a.actor_ids, a.token_ids);
    else
        execute format('create temporary table %I on commit drop as
                          select distinct import_id, actor_user_id, api_token_id from %I',
                       events_k || '_refs', events_k);
    end if;
    for r in select * from (values ('import_id', 'imports', 'ballot_events_import_fkey'),
                                   ('actor_user_id', 'admin_users', 'ballot_events_actor_fkey'),
                                   ('api_token_id', 'api_tokens', 'ballot_events_api_token_fkey'))
             as v(col, tbl, fkey) loop
        execute format('select n.%I as id from %I n where n.%I is not null
                          and not exists (select from %I x where x.id = n.%I
                                          and (x.county_fips is null or x.county_fips = %L))
                        limit 1',
                       r.col, events_k || '_refs', r.col, r.tbl, r.col, p.county_fips) into missing;
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
    -- Later ballots of the pair take their ids from here (`ballot_partition_take_ids`).
    select next_id into p.next_id from ballot_partitions where id = k;
    if p.next_id < p.end_id then
        perform setval(format('ballot_ids_%s', k)::regclass, p.next_id, false);
    end if;
end
$$;

revoke all on function ballot_events_aside_sweep() from public;
revoke all on function ballot_events_aside_make(integer, text) from public;
revoke all on function ballot_events_aside_index(integer) from public;
revoke all on function ballot_partition_index(integer) from public;
grant execute on function ballot_events_aside_sweep() to ballot_tracker_app;
grant execute on function ballot_events_aside_make(integer, text) to ballot_tracker_app;
grant execute on function ballot_events_aside_index(integer) to ballot_tracker_app;
grant execute on function ballot_partition_index(integer) to ballot_tracker_app;
