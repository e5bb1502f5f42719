-- Ids for a pair's later ballots (a reissue, a ballot the county adds after its first file):
-- a pair with a partition of its own takes them from its range, through the partition's own
-- sequence (`ballot_ids_<k>`, made with the partition and set past its first load's ballots when
-- it is attached). `nextval` waits for no one: a staff reissue does not wait for an import of the
-- same pair to commit. No row for a pair without a partition of its own (its ballots take ids
-- from `ballots_id_seq` and live in `ballots_0`).
create function ballot_partition_take_ids(county text, election bigint, n integer)
returns setof bigint
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    k integer;
begin
    if n is null or n < 0 then
        raise exception 'cannot take % ids', n using errcode = 'invalid_parameter_value';
    end if;
    select id into k from ballot_partitions
    where county_fips = county and election_id = election and attached_at is not null;
    if k is null then
        return;
    end if;
    if coalesce(current_setting('app.county', true), '') not in ('*', county) then
        raise exception 'this transaction does not work for county %', county
            using errcode = 'insufficient_privilege';
    end if;
    return query select nextval(format('ballot_ids_%s', k)::regclass) from generate_series(1, n);
end
$$;

revoke all on function ballot_partition_take_ids(text, bigint, integer) from public;
grant execute on function ballot_partition_take_ids(text, bigint, integer) to ballot_tracker_app;

-- A tracking code belongs to one ballot of an election, whatever its county; each partition's
-- unique indexes say so only within it, and a county's transaction sees only its own ballots
-- (row-level security). These two look at every county's, and say only which codes are taken:
-- by the given codes (and which ballot holds each), or within a range of codes (a first file's
-- codes share their first digits: barcode id, service type, the county's Mailer ID).
create function ballot_tracking_holders(election bigint, codes text[])
returns table (code text, ballot_id bigint)
language sql stable security definer set search_path = public, pg_temp set app.county = '*' as $$
    select t.code, b.id from unnest(codes) as t(code)
    cross join lateral (
        select id from ballots where outbound_tracking = t.code and election_id = election
        union all
        select id from ballots where inbound_tracking = t.code and election_id = election
        offset 0) b
$$;

create function ballot_tracking_between(election bigint, low text, high text) returns setof text
language sql stable security definer set search_path = public, pg_temp set app.county = '*' as $$
    select outbound_tracking from ballots
    where election_id = election and outbound_tracking >= low and outbound_tracking < high
    union all
    select inbound_tracking from ballots
    where election_id = election and inbound_tracking >= low and inbound_tracking < high
$$;

revoke all on function ballot_tracking_holders(bigint, text[]) from public;
revoke all on function ballot_tracking_between(bigint, text, text) from public;
grant execute on function ballot_tracking_holders(bigint, text[]) to ballot_tracker_app;
grant execute on function ballot_tracking_between(bigint, text, text) to ballot_tracker_app;

-- A partition's CHECKs of its range and pair are made with its tables, so that COPY checks each
-- row as it writes it instead of a scan of each table per CHECK when attaching (0.48 s of 3,000,000
-- rows); the events' references to imports, accounts and tokens are read from the handful the
-- events name; the ballots' voters are looked for among the county's; each partition has a
-- sequence of its own for its later ballots' ids. Otherwise as `20261206000004` made them.
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
    -- From a sequence: row-level security shows a county's transaction its own partitions only.
    k := nextval('ballot_partitions_id_seq');
    lo := (1::bigint << 40) + (k - 1)::bigint * (1::bigint << 28);
    hi := lo + (1::bigint << 28);
    insert into ballot_partitions (id, county_fips, election_id, first_id, end_id, next_id)
    values (k, county, election, lo, hi, lo);
    execute format('create table %I (like ballots_0 including defaults including constraints including generated)',
                   'ballots_' || k);
    execute format('create table %I (like ballot_events_0 including defaults including constraints)',
                   'ballot_events_' || k);
    -- The partition's bounds and pair, checked row by row as COPY writes them (a table scan
    -- each, added afterwards); ATTACH then reads no row.
    execute format('alter table %I add constraint %I check (id >= %s and id < %s),
                                   add constraint %I check (county_fips = %L and election_id = %s)',
                   'ballots_' || k, 'ballots_' || k || '_range', lo, hi,
                   'ballots_' || k || '_pair', county, election);
    execute format('alter table %I add constraint %I check (ballot_id >= %s and ballot_id < %s),
                                   add constraint %I check (county_fips = %L)',
                   'ballot_events_' || k, 'ballot_events_' || k || '_range', lo, hi,
                   'ballot_events_' || k || '_county', county);
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

create or replace function ballot_partition_attach(k integer) returns void
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
    end loop;
    -- The CHECKs of the range and the pair came with the tables (`ballot_partition_make`).

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
    -- run under the county's policies, would see. The events name a handful of each: read
    -- once.
    execute format('create temporary table %I on commit drop as
                      select distinct import_id, actor_user_id, api_token_id from %I',
                   events_k || '_refs', events_k);
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
