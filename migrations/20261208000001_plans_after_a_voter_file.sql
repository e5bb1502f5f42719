-- A county's first ELG file often follows its voter file at once: a million new voters that
-- autovacuum has not yet analyzed (it looks every minute, and a large table waits its turn). With
-- statistics that say the county has no voters, the partition's reference check in
-- `ballot_partition_attach` ("every ballot's voter is one of the county's") was planned as a
-- nested loop over a materialized scan of the county's voters, once per ballot: a million times a
-- million rows (`make bench` did not finish it in minutes; with joins by hash or merge it takes
-- under a second). The checks join whole tables, so the function plans no nested loops.
alter function ballot_partition_attach(integer) set enable_nestloop = off;

-- And a voter file that adds or changes many voters gives the table fresh statistics before it
-- commits (the app's role does not own the table, so it asks this function), so that what
-- follows it is planned for the county it now has.
create function voters_analyze() returns void
language plpgsql security definer set search_path = public, pg_temp as $$
begin
    analyze voters;
end
$$;

revoke all on function voters_analyze() from public;
grant execute on function voters_analyze() to ballot_tracker_app;
