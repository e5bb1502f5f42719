-- The county API: an idempotency key's first answer, kept per token.

create table api_idempotency (
    api_token_id    bigint not null references api_tokens,
    county_fips     text not null references counties,
    key             text not null check (length(key) between 1 and 100),
    request_sha256  text not null check (request_sha256 ~ '^[0-9a-f]{64}$'),
    status          integer not null check (status between 100 and 599),
    body            jsonb not null,
    created_at      timestamptz not null default now(),
    primary key (api_token_id, key)
);
create index api_idempotency_by_age on api_idempotency (created_at);

alter table api_idempotency enable row level security;
alter table api_idempotency force row level security;
create policy county_scope on api_idempotency using (app_county_allows(county_fips))
    with check (app_county_allows(county_fips));
grant select, insert, update, delete on api_idempotency to ballot_tracker_app;
