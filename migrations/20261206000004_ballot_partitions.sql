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
alter table ballot_partitions enable row level security;
alter table ballot_partitions force row level security;
create policy county_scope on ballot_partitions
    using (case coalesce(current_setting('app.county', true), '')
               when '*' then true when '' then false
               else county_fips is not distinct from current_setting('app.county', true) end)
    with check (case coalesce(current_setting('app.county', true), '')
               when '*' then true when '' then false
               else county_fips is not distinct from current_setting('app.county', true) end);
grant select, update on ballot_partitions to ballot_tracker_app;

-- Refuses a county the calling transaction does not work for.
create function ballot_partition_county_allowed(county text) returns void
language plpgsql stable as $$
begin
    if coalesce(current_setting('app.county', true), '') not in ('*', county) then
        raise exception 'this transaction does not work for county %', county
            using errcode = 'insufficient_privilege';
    end if;
end
$$;

-- Makes the two empty tables of a new partition, shaped like `ballots_0` and `ballot_events_0`
-- (columns, defaults, CHECKs, grants) but without indexes, which are built once they are
-- filled, and not attached. Row-level security comes with attaching: PostgreSQL refuses COPY into
-- a table with a policy, and until then no one but the making transaction can see the tables. Returns the partition's number k: the tables are
-- `ballots_<k>` and `ballot_events_<k>`. Refuses a pair that has ballots already: all of a
-- county's ballots of an election are in one partition, which is what lets each partition's own
-- unique indexes say what the tables' said.
create function ballot_partition_make(county text, election bigint) returns integer
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    k integer;
    t text;
begin
    perform ballot_partition_county_allowed(county);
    if exists (select 1 from ballots where county_fips = county and election_id = election) then
        raise exception 'county % has ballots of election % already', county, election
            using errcode = 'unique_violation';
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
    foreach t in array array['ballots_' || k, 'ballot_events_' || k] loop
        execute format('grant select, insert, update, delete on %I to ballot_tracker_app', t);
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
    t text;
    ballots_k constant text := 'ballots_' || k;
    events_k constant text := 'ballot_events_' || k;
    test constant text := '(case coalesce(current_setting(''app.county'', true), '''')'
        || ' when ''*'' then true when '''' then false'
        || ' else county_fips is not distinct from current_setting(''app.county'', true) end)';
begin
    select * into strict p from ballot_partitions where id = k and attached_at is null for update;
    perform ballot_partition_county_allowed(p.county_fips);

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
    execute format('select n.import_id as id from %I n where n.import_id is not null
                      and not exists (select from imports i where i.id = n.import_id) limit 1', events_k)
        into missing;
    if missing is not null then
        raise exception 'insert on table "ballot_events" violates foreign key constraint "ballot_events_import_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (import_id)=(%s) is not present in table "imports".', missing.id);
    end if;
    execute format('select n.actor_user_id as id from %I n where n.actor_user_id is not null
                      and not exists (select from admin_users u where u.id = n.actor_user_id) limit 1', events_k)
        into missing;
    if missing is not null then
        raise exception 'insert on table "ballot_events" violates foreign key constraint "ballot_events_actor_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (actor_user_id)=(%s) is not present in table "admin_users".', missing.id);
    end if;
    execute format('select n.api_token_id as id from %I n where n.api_token_id is not null
                      and not exists (select from api_tokens t where t.id = n.api_token_id) limit 1', events_k)
        into missing;
    if missing is not null then
        raise exception 'insert on table "ballot_events" violates foreign key constraint "ballot_events_api_token_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (api_token_id)=(%s) is not present in table "api_tokens".', missing.id);
    end if;

    foreach t in array array[ballots_k, events_k] loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format('create policy county_scope on %I using %s with check %s', t, test, test);
    end loop;
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

revoke all on function ballot_partition_make(text, bigint) from public;
revoke all on function ballot_partition_attach(integer) from public;
grant execute on function ballot_partition_make(text, bigint) to ballot_tracker_app;
grant execute on function ballot_partition_attach(integer) to ballot_tracker_app;
