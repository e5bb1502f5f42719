with rels as (
    select c.oid, c.relname::text as name from pg_class c
    where c.relnamespace not in ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
      and c.relnamespace::regnamespace::text not like 'pg_toast%' and c.relkind in ('r', 'p')
)
select line from (
    select format('table %s.%s kind=%s persistence=%s owner=%s rls=%s/%s options=%s bound=%s parent=%s acl=%s',
                  c.relnamespace::regnamespace, r.name, c.relkind, c.relpersistence,
                  pg_get_userbyid(c.relowner), c.relrowsecurity, c.relforcerowsecurity,
                  c.reloptions, pg_get_expr(c.relpartbound, c.oid),
                  (select h.inhparent::regclass::text from pg_inherits h where h.inhrelid = c.oid),
                  (select string_agg(g, ',' order by g)
                   from (select case when a.grantee = 0 then 'public' else a.grantee::regrole::text end
                                || ':' || a.privilege_type
                                || case when a.is_grantable then '*' else '' end as g
                         from aclexplode(c.relacl) a) grants)) as line
    from rels r join pg_class c on c.oid = r.oid
    union all
    select format('column %s.%s %s notnull=%s local=%s inherited=%s default=%s', r.name, a.attname,
                  format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attislocal, a.attinhcount,
                  pg_get_expr(d.adbin, d.adrelid))
    from rels r join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
    union all
    select format('constraint %s.%s %s local=%s inherited=%s valid=%s', r.name, k.conname,
                  pg_get_constraintdef(k.oid), k.conislocal, k.coninhcount, k.convalidated)
    from rels r join pg_constraint k on k.conrelid = r.oid
    union all
    select format('index %s.%s %s parent=%s', r.name, c.relname, pg_get_indexdef(x.indexrelid),
                  (select h.inhparent::regclass::text from pg_inherits h where h.inhrelid = x.indexrelid))
    from rels r join pg_index x on x.indrelid = r.oid join pg_class c on c.oid = x.indexrelid
    union all
    select format('trigger %s.%s %s enabled=%s', r.name, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled)
    from rels r join pg_trigger t on t.tgrelid = r.oid and not t.tgisinternal
    union all
    select format('policy %s.%s %s %s roles=%s using=%s check=%s', r.name, p.polname, p.polcmd,
                  p.polpermissive, p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid),
                  pg_get_expr(p.polwithcheck, p.polrelid))
    from rels r join pg_policy p on p.polrelid = r.oid
) lines order by line;
