-- Two costs every voter's look-up paid in PostgreSQL (design note (d2)).
--
-- 1. Rate-limit counts are read by their stored keys, which the app computes from the salt
--    (`app::ratelimit::stored_key`), in the statement that finds the voter: two probes of the
--    primary key, where the PL/pgSQL reader cost a function call with its own settings, two
--    SHA-256s and a result set (0.15 ms against the plain voter look-up's 0.02 ms).
--    `rate_limit_counts` stays for now: instances of the previous release, still serving
--    during a rolling upgrade after a new one has migrated, call it on every look-up. A later
--    release's migration drops it.
comment on function rate_limit_counts(text[], text[], float8[]) is
    'Unused since 20261204000004; kept for instances of the previous release during an upgrade. Drop in a later release.';

-- 2. Row-level security's policies state their test inline. Through the SQL function
--    `app_county_allows`, PostgreSQL parsed the function's body again each time it planned a
--    statement on a protected table with its parameters' values (the look-up's events, and many
--    of the portal's statements): a fifth of such a statement's planning. The test is the same:
--    every county when `app.county` is '*', none when unset, else the rows of that county. A
--    row without a county (`coalesce(county_fips, '*')` before) passes only the '*' test, as
--    before, since a county code is never '*'.
do $$
declare
    p record;
    test constant text := '(case coalesce(current_setting(''app.county'', true), '''')'
        || ' when ''*'' then true when '''' then false'
        || ' else county_fips is not distinct from current_setting(''app.county'', true) end)';
    pattern constant text := 'app_county_allows\((COALESCE\(county_fips, ''\*''::text\)|county_fips)\)';
begin
    for p in select schemaname, tablename, qual, with_check from pg_policies
             where policyname = 'county_scope' loop
        execute format('alter policy county_scope on %I.%I using (%s) with check (%s)',
                       p.schemaname, p.tablename,
                       regexp_replace(p.qual, pattern, test, 'g'),
                       regexp_replace(p.with_check, pattern, test, 'g'));
    end loop;
end
$$;
-- Fails if any policy still calls it.
drop function app_county_allows(text);
