-- Ids for a pair's later ballots (a reissue, a ballot the county adds after its first file):
-- a pair with a partition of its own takes them from its range, `ballot_partitions.next_id`,
-- which only the owner may write. Returns the first of `n` ids; null when the pair has no
-- partition of its own (its ballots take ids from `ballots_id_seq` and live in `ballots_0`).
-- The row's lock serialises the pair's writers until they commit.
create function ballot_partition_take_ids(county text, election bigint, n integer) returns bigint
language plpgsql security definer set search_path = public, pg_temp as $$
declare
    first bigint;
    last bigint;
begin
    if n is null or n < 0 then
        raise exception 'cannot take % ids', n using errcode = 'invalid_parameter_value';
    end if;
    select next_id, end_id into first, last from ballot_partitions
    where county_fips = county and election_id = election and attached_at is not null
    for update;
    if first is null then
        return null;
    end if;
    if coalesce(current_setting('app.county', true), '') not in ('*', county) then
        raise exception 'this transaction does not work for county %', county
            using errcode = 'insufficient_privilege';
    end if;
    if first + n > last then
        raise exception 'county %''s partition for election % has no room for % more ballots',
                        county, election, n
            using errcode = 'program_limit_exceeded';
    end if;
    update ballot_partitions set next_id = first + n
    where county_fips = county and election_id = election;
    return first;
end
$$;

revoke all on function ballot_partition_take_ids(text, bigint, integer) from public;
grant execute on function ballot_partition_take_ids(text, bigint, integer) to ballot_tracker_app;
