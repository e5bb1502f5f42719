-- Rate limits shared by every app instance: fixed-window counters. Unlogged: after a crash the
-- counters start again from zero, which a rate limit can afford, and writes stay cheap.
create unlogged table rate_limit_hits (
    -- The limit's name and a salted hash of its subject (a client address, a voter's look-up
    -- identity): never the subject itself.
    key           text not null check (key ~ '^[a-z_.]+:[0-9a-f]{64}$'),
    window_start  timestamptz not null,
    hits          integer not null check (hits > 0),
    primary key (key, window_start)
);
create index rate_limit_hits_by_window on rate_limit_hits (window_start);

-- Per-installation secrets generated at migration time.
create table app_secrets (
    name   text primary key,
    value  text not null
);
insert into app_secrets (name, value)
values ('rate_limit_salt', encode(sha256(convert_to(gen_random_uuid()::text || clock_timestamp()::text, 'UTF8')), 'hex'));
