-- Row-level security behind the server functions' own county checks: a transaction that says
-- which county it works for (`app.county`) sees and writes only that county's rows, whatever
-- its SQL forgets. The serving app connects as (or sets its role to) `ballot_tracker_app`,
-- which owns nothing, so the policies bind it; migrations, the demo loader and `audit verify`
-- run as the owner.
--
-- `app.county` is '*' for work across counties (voters' look-ups, imports, workers, sign-in),
-- a county's FIPS code inside a portal transaction of that county's staff, and unset — which
-- sees nothing — anywhere else.

do $$
begin
    create role ballot_tracker_app nologin;
exception
    -- Another database on this server made it already (tests migrate many at once).
    when duplicate_object or unique_violation then null;
end
$$;

grant usage on schema public, tower_sessions to ballot_tracker_app;
grant select, insert, update, delete on all tables in schema public to ballot_tracker_app;
grant select, insert, update, delete on all tables in schema tower_sessions to ballot_tracker_app;
grant usage, select, update on all sequences in schema public to ballot_tracker_app;
alter default privileges in schema public
    grant select, insert, update, delete on tables to ballot_tracker_app;
alter default privileges in schema public
    grant usage, select, update on sequences to ballot_tracker_app;

create function app_county_allows(row_county text) returns boolean
language sql stable as $$
    select case coalesce(current_setting('app.county', true), '')
        when '*' then true
        when '' then false
        else row_county is not distinct from current_setting('app.county', true)
    end
$$;

do $$
declare
    t regclass;
begin
    -- Rows that always belong to one county.
    for t in
        select unnest(array['voters', 'imports', 'api_tokens', 'ballots', 'ballot_events',
                            'subscriptions', 'consents', 'notifications']::regclass[])
        union all
        select inhrelid::regclass from pg_inherits where inhparent = 'ballot_events'::regclass
    loop
        execute format('alter table %s enable row level security', t);
        execute format('alter table %s force row level security', t);
        execute format('create policy county_scope on %s using (app_county_allows(county_fips))
                        with check (app_county_allows(county_fips))', t);
    end loop;

    -- Rows without a county belong to the state: seen and written only across counties.
    -- Statewide elections are read by every county (a county's ballots are in them).
    for t in select unnest(array['admin_users', 'audit_log', 'elections']::regclass[]) loop
        execute format('alter table %s enable row level security', t);
        execute format('alter table %s force row level security', t);
        execute format('create policy county_scope on %s using (%s)
                        with check (app_county_allows(coalesce(county_fips, ''*'')))',
                       t,
                       case when t = 'elections'::regclass
                            then 'county_fips is null or app_county_allows(county_fips)'
                            else 'app_county_allows(coalesce(county_fips, ''*''))' end);
    end loop;
end
$$;
