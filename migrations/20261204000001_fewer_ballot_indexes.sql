-- Four indexes fewer on ballots, each of which every new ballot (and every status change, which
-- updates an indexed column) wrote an entry into: a county file of a million new ballots spent
-- 2 to 3 µs a ballot on each of its twelve indexes, most of its time (README, Benchmarks).
--
-- 1. The ballot number: one unique index, led by the number, serves both the county's key
--    (number, county, election) and staff's search by number alone, which had an index of its own.
alter table ballots
    drop constraint ballots_county_fips_election_id_ballot_number_key,
    add constraint ballots_number_key unique (ballot_number, county_fips, election_id);
drop index ballots_by_number;

-- 2. (id, county_fips) was the target of the events' foreign key, which is now checked once per
--    statement through the primary key (migration 20261203000004); nothing else refers to it.
alter table ballots drop constraint ballots_id_county_fips_key;

-- 3. Barcodes: one index per direction instead of two. The 20-digit tracking code — what USPS
--    identifies a mail piece by, and what every scan carries — is now unique within an
--    election, which also refuses two ballots whose barcodes differ only in the routing code
--    (their scans could not be told apart). It serves the scans' and staff's look-up by
--    tracking code as before.
drop index ballots_outbound_imb, ballots_inbound_imb, ballots_outbound_tracking,
    ballots_inbound_tracking;
create unique index ballots_outbound_tracking on ballots (outbound_tracking, election_id)
    where outbound_tracking is not null;
create unique index ballots_inbound_tracking on ballots (inbound_tracking, election_id)
    where inbound_tracking is not null;
