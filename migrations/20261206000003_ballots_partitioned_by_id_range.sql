-- Ballots and their events become tables partitioned by ranges of ballot ids (design note (c),
-- "Partitioning"), so that a county's first ELG file of an election can later be written aside
-- with COPY, its indexes built in one sorted pass each, and the result attached as a partition
-- of its own inside the import's transaction (issue 7: the row-at-a-time path writes each new
-- ballot's eight index entries and two events one by one, 38-44 s for 1,000,000 ballots).
--
-- This migration changes where rows live, not what the app sees: every ballot so far, and every
-- ballot issued until partitions of their own exist, keeps its id from `ballots_id_seq` below
-- 2^40 and lives in `ballots_0`; their events in `ballot_events_0`, which stays hash-partitioned
-- by ballot into its sixteen partitions. Ids from 2^40 up are for the partitions to come, one
-- range of ids each.
--
-- The parents carry no index: each partition carries all of its own, under the names the
-- tables had (`ballots_0` keeps `ballots_pkey`, `ballots_number_key`, …). A partitioned table's
-- unique indexes must contain its partition key, so a ballot number once per county and
-- election, one live ballot per voter and election, a barcode once per election and one reissue
-- per ballot could not be the parent's anyway; the keys are, in effect, since the partitions'
-- ranges of ids do not overlap. A partition of its own will hold one county's ballots of one
-- election, where its own unique indexes say all that the parent's would. No statement relies on
-- these indexes through ON CONFLICT. (Partitions with their own indexes also let the demo loader
-- drop and rebuild `ballots_0`'s as it did the table's.)
--
-- Nothing is copied: the tables are renamed and attached, which checks each row against its
-- range once (a CHECK constraint added first would spare that scan, at the price of the same
-- scan to validate it).

-- Ballots ------------------------------------------------------------------------------------

alter table ballots rename to ballots_0;
-- PostgreSQL 15 has no identity columns on partitioned tables: ids come from a named sequence,
-- as events' ids do. It starts after the identity's last value (ids reserved and never written
-- stay unused, as before).
create temporary table ballots_id_left_off as
    select greatest(case when s.is_called then s.last_value else 0 end,
                    coalesce((select max(id) from ballots_0), 0)) as last
    from ballots_id_seq s;
alter table ballots_0 alter column id drop identity;
create sequence ballots_id_seq as bigint;
select setval('ballots_id_seq', last) from ballots_id_left_off where last > 0;
drop table ballots_id_left_off;

create table ballots (like ballots_0 including defaults including constraints including generated)
    partition by range (id);
alter table ballots alter column id set default nextval('ballots_id_seq');
alter sequence ballots_id_seq owned by ballots.id;
alter table ballots attach partition ballots_0 for values from (minvalue) to (1099511627776);

-- Triggers: statement triggers fire for the table a statement names, so the reference check and
-- the refusal of DELETE and TRUNCATE move to the parent (the latter stays on the partition too,
-- for statements that name it); the row trigger that keeps keys fixed is the parent's and is
-- cloned onto every partition.
drop trigger ballots_references on ballots_0;
drop trigger ballots_keys_fixed on ballots_0;
create trigger ballots_references after insert on ballots
    referencing new table as new_ballots
    for each statement execute function ballots_check_references();
create trigger ballots_never_deleted before delete or truncate on ballots
    for each statement execute function refuse_removal();
create trigger ballots_keys_fixed
    before update of id, county_fips, voter_id, election_id, replaces_ballot_id on ballots
    for each row execute function refuse_removal();

-- Events -------------------------------------------------------------------------------------

alter table ballot_events rename to ballot_events_0;
create table ballot_events (like ballot_events_0 including defaults including constraints)
    partition by range (ballot_id);
alter sequence ballot_events_id_seq owned by ballot_events.id;
alter table ballot_events attach partition ballot_events_0
    for values from (minvalue) to (1099511627776);

drop trigger ballot_events_references on ballot_events_0;
drop trigger ballot_events_append_only on ballot_events_0;
create trigger ballot_events_references after insert on ballot_events
    referencing new table as new_events
    for each statement execute function ballot_events_check_references();
create trigger ballot_events_no_truncate before truncate on ballot_events
    for each statement execute function refuse_change();
create trigger ballot_events_append_only before delete or update on ballot_events
    for each row execute function refuse_change();

-- Row-level security as on every table with a county: the county's policy, copied from a table
-- that has it (the renamed tables kept theirs), so it stays the one test 20261204000004 wrote.
-- Later partitions and tables take theirs the same way (20261206000004).
create function county_scope_like(model regclass, target regclass) returns void
language plpgsql as $$
declare
    p record;
begin
    execute format('alter table %s enable row level security', target);
    execute format('alter table %s force row level security', target);
    select pg_get_expr(polqual, polrelid) as qual, pg_get_expr(polwithcheck, polrelid) as checks
    into strict p from pg_policy where polrelid = model and polname = 'county_scope';
    execute format('create policy county_scope on %s using (%s) with check (%s)',
                   target, p.qual, p.checks);
end
$$;
revoke all on function county_scope_like(regclass, regclass) from public;
select county_scope_like('ballots_0', 'ballots');
select county_scope_like('ballot_events_0', 'ballot_events');
grant select, insert, update, delete on ballots, ballot_events to ballot_tracker_app;
grant usage, select, update on sequence ballots_id_seq to ballot_tracker_app;

-- Autovacuum analyzes partitions, never a partitioned parent; the planner's estimates for joins
-- above the parents come from these (the demo loader analyzes them again after a load).
analyze ballots;
analyze ballot_events;
