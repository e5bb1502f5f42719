-- The county's key of a voter, led by the voter id rather than the county. An import looks up
-- a chunk's voters one id at a time; led by the county, that probe shared its first column with
-- two other indexes (by name, by precinct), and with statistics from before a county's first
-- VOT file (no voters there yet) the planner took the one by name and read the whole county
-- for every id: an ELG file after its VOT ran for minutes. Led by the id, only this index (and
-- the look-up's, which leaves confidential voters out) can answer `county_voter_id = $1`.
-- Upserts name the key's columns, which match in any order.
alter table voters
    drop constraint voters_county_fips_county_voter_id_key,
    add constraint voters_county_voter_id_key unique (county_voter_id, county_fips);
