-- County feeds (VOT, ELG, TRK, PKG): the import's dry-run summary and decision, its rejected
-- rows, and per-county code maps. (Scans find ballots by the tracking-code columns of
-- migration ..._admin_portal.)

alter table imports
    add column file_bytes     bigint check (file_bytes >= 0),
    -- What the dry run found: counts by change, guards raised, notifications it would queue.
    add column summary        jsonb,
    add column rejected_rows  integer not null default 0 check (rejected_rows >= 0),
    -- What the person applying it confirmed.
    add column confirmed      text[] not null default '{}',
    add column skip_rejected  boolean not null default false,
    add column applied_by     bigint references admin_users,
    add column failure        text check (length(failure) <= 2000);

-- The per-row error report: row number (the header is row 1), field, value, reason.
create table import_rejections (
    import_id    bigint not null references imports on delete cascade,
    county_fips  text not null references counties,
    row_number   bigint not null check (row_number >= 1),
    field        text check (length(field) <= 100),
    value        text check (length(value) <= 500),
    reason       text not null check (length(reason) <= 500),
    primary key (import_id, row_number, reason)
);

-- A file uploaded in the portal, kept with its import: applying reads the very bytes the dry
-- run checked (and any instance can, so uploads need no shared disk).
create table import_files (
    import_id    bigint primary key references imports on delete cascade,
    county_fips  text not null references counties,
    content      bytea not null
);

-- A county's own codes: ELG status codes and PKG operation codes, each to one of our statuses
-- (and, for "not counted", its reason). Rows here override the built-in defaults
-- (app::imports::codes) for that county.
create table feed_code_maps (
    county_fips  text not null references counties,
    kind         text not null check (kind in ('elg', 'pkg')),
    code         text not null check (code ~ '^[A-Za-z0-9_-]{1,40}$'),
    status       text not null check (status in ('issued','mailed','in_transit','delivered','undeliverable','return_in_transit','received','in_review','counted','not_counted','cured','voted_in_person','replaced')),
    reason       text check (reason in ('signature_mismatch','signature_missing','received_late','already_voted','ballot_missing','voter_deceased','multiple_ballots','unofficial_envelope','not_eligible','other')),
    updated_by   bigint references admin_users,
    updated_at   timestamptz not null default now(),
    primary key (county_fips, kind, code),
    check (reason is null or status = 'not_counted')
);

do $$
declare
    t regclass;
begin
    for t in select unnest(array['import_rejections', 'import_files', 'feed_code_maps']::regclass[]) loop
        execute format('alter table %s enable row level security', t);
        execute format('alter table %s force row level security', t);
        execute format('create policy county_scope on %s using (app_county_allows(county_fips))
                        with check (app_county_allows(county_fips))', t);
    end loop;
end
$$;
grant select, insert, update, delete on import_rejections, import_files, feed_code_maps
    to ballot_tracker_app;
