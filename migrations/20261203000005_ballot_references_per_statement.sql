-- The same for a ballot's own four references (its voter of the same county, its election, its
-- county, the ballot it replaces): a county file of a million new ballots paid 9 µs a ballot
-- for their row-by-row checks. One query per statement now looks for a new ballot whose
-- voter (in that county), election, county or replaced ballot is missing, and fails the
-- statement with the foreign-key error.
alter table ballots
    drop constraint ballots_county_fips_fkey,
    drop constraint ballots_election_id_fkey,
    drop constraint ballots_replaces_ballot_id_fkey,
    drop constraint ballots_voter_id_county_fips_fkey;

create function ballots_check_references() returns trigger language plpgsql as $$
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
    return null;
end
$$;

create trigger ballots_references after insert on ballots
    referencing new table as new_ballots
    for each statement execute function ballots_check_references();

-- A ballot keeps its voter, election and predecessor (as it keeps its id and county, above);
-- voters and elections are never deleted and keep their keys, and a voter's county stays
-- (the ballot's county is checked against it; a voter who moves county is a new registration
-- there). A ballot's county needs no check of its own: its voter's county is a county.
drop trigger ballots_keys_fixed on ballots;
create trigger ballots_keys_fixed
    before update of id, county_fips, voter_id, election_id, replaces_ballot_id on ballots
    for each row execute function refuse_removal();
create trigger voters_never_deleted before delete or truncate on voters
    for each statement execute function refuse_removal();
create trigger voters_keys_fixed before update of id, county_fips on voters
    for each row execute function refuse_removal();
create trigger elections_never_deleted before delete or truncate on elections
    for each statement execute function refuse_removal();
create trigger elections_keys_fixed before update of id on elections
    for each row execute function refuse_removal();
