-- Voters' look-ups no longer write a rate-limit row each. Every app instance counts its own
-- hits in memory (`app::ratelimit::Tally`) and adds them here in one statement every 200 ms;
-- a look-up reads the written counts (in the statement that finds the voter) and adds its
-- instance's unwritten ones. A write per look-up was a transaction of its own and half the
-- database's work of a look-up (design note (d2)).

-- The current window's counts of each (limit, subject), 0 when none: read-only, so a look-up
-- is one read statement. PL/pgSQL keeps the plan of its statement for the session, and a
-- generic one: left to choose, PostgreSQL planned it anew for every call's values (and so did
-- an inlined SQL function), which cost more than the write it replaces (pgbench, two clients:
-- 6,600 calls a second planned each time, 15,700 with the kept plan, 8,000 for the write).
create function rate_limit_counts(names text[], subjects text[], window_secs float8[])
returns table (limit_name text, hit_count integer, elapsed_secs float8)
language plpgsql stable
set plan_cache_mode = force_generic_plan
as $$
begin
    return query
    select l.name, coalesce(r.hits, 0), extract(epoch from now() - w.start)::float8
    from unnest(rate_limit_counts.names, rate_limit_counts.subjects, rate_limit_counts.window_secs)
         with ordinality as l(name, subject, secs, n)
    cross join app_secrets s
    cross join lateral (
        select date_bin(make_interval(secs => l.secs), now(), timestamptz '2000-01-01') as start
    ) w
    left join rate_limit_hits r
        on r.key = l.name || ':' || encode(sha256(convert_to(s.value || l.subject, 'UTF8')), 'hex')
       and r.window_start = w.start
    where s.name = 'rate_limit_salt'
    order by l.n;
end
$$;

-- Adds an instance's counted hits, each (limit, subject) once, to the current windows. Rows are
-- written in key order, the same in every instance, so concurrent flushes cannot deadlock.
create function rate_limit_add(names text[], subjects text[], window_secs float8[], counts integer[])
returns void
language sql volatile
as $$
    insert into rate_limit_hits (key, window_start, hits)
    select l.name || ':' || encode(sha256(convert_to(s.value || l.subject, 'UTF8')), 'hex'),
           date_bin(make_interval(secs => l.secs), now(), timestamptz '2000-01-01'), l.hits
    from unnest(names, subjects, window_secs, counts) as l(name, subject, secs, hits)
    cross join app_secrets s
    where s.name = 'rate_limit_salt'
    order by 1
    on conflict (key, window_start) do update set hits = rate_limit_hits.hits + excluded.hits
$$;
