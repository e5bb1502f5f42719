-- Counts one hit against each (limit, subject) and returns each limit's count and how far into
-- its window it is. A function, so that the look-up can count its hits in the same statement
-- (one round trip) that finds the voter. Rows are written in the order given.
create function rate_limit_hit(names text[], subjects text[], window_secs float8[])
returns table (limit_name text, hit_count integer, elapsed_secs float8)
language plpgsql volatile
as $$
begin
    -- PL/pgSQL keeps this statement's plan for the session; a SQL function would plan it anew
    -- on every call.
    return query
    insert into rate_limit_hits (key, window_start, hits)
    select l.name || ':' || encode(sha256(convert_to(s.value || l.subject, 'UTF8')), 'hex'),
           date_bin(make_interval(secs => l.secs), now(), timestamptz '2000-01-01'), 1
    from unnest(rate_limit_hit.names, rate_limit_hit.subjects, rate_limit_hit.window_secs) with ordinality as l(name, subject, secs, n)
    cross join app_secrets s
    where s.name = 'rate_limit_salt'
    order by l.n
    on conflict (key, window_start) do update set hits = rate_limit_hits.hits + 1
    returning split_part(rate_limit_hits.key, ':', 1), rate_limit_hits.hits,
              extract(epoch from now() - rate_limit_hits.window_start)::float8;
end
$$;
