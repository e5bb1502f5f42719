-- The audit log becomes a hash chain: each row carries the hash of the row before it and its
-- own hash over its contents and that link. Editing or deleting any row breaks the chain at
-- that row, and `ballot-tracker audit verify` names the first broken link.

alter table audit_log
    add column prev_hash text check (prev_hash ~ '^[0-9a-f]{64}$'),
    add column row_hash  text check (row_hash ~ '^[0-9a-f]{64}$');

-- What a row's hash covers: every column but the hashes, in a text form that does not depend
-- on the session's settings (time as epoch seconds; jsonb's own canonical text).
create function audit_row_text(a audit_log) returns text
language sql immutable as $$
    select concat_ws('|',
        a.id::text,
        extract(epoch from a.occurred_at)::text,
        coalesce(a.county_fips, ''),
        a.actor_kind,
        coalesce(a.actor_user_id::text, ''),
        a.action,
        coalesce(a.entity, ''),
        coalesce(a.entity_id, ''),
        coalesce(a.before::text, ''),
        coalesce(a.after::text, ''),
        coalesce(a.client_ip::text, ''),
        coalesce(a.request_id, ''))
$$;

create function audit_row_hash(prev_hash text, a audit_log) returns text
language sql immutable as $$
    select encode(sha256(convert_to(prev_hash || '|' || audit_row_text(a), 'UTF8')), 'hex')
$$;

-- The chain's head: the last row's id and hash. Appending locks this one row until the
-- transaction ends, so rows join the chain one transaction at a time, and takes the row's id
-- after the lock, so id order is chain order. Audited writers write their audit row last, so
-- the lock is held only from there to commit. A table of its own (no county column) so that
-- row-level security, which limits what a county's transaction sees of the log, never hides
-- the head from the trigger.
create table audit_chain_head (
    id        integer primary key check (id = 1),
    last_id   bigint,
    last_hash text not null check (last_hash ~ '^[0-9a-f]{64}$')
);
insert into audit_chain_head (id, last_id, last_hash) values (1, null, repeat('0', 64));

create function audit_chain() returns trigger language plpgsql as $$
declare
    prev text;
begin
    select last_hash into prev from audit_chain_head where id = 1 for update;
    new.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
    new.prev_hash := prev;
    new.row_hash := audit_row_hash(prev, new);
    update audit_chain_head set last_id = new.id, last_hash = new.row_hash where id = 1;
    return new;
end
$$;

-- Rows written before this migration join the chain in id order.
alter table audit_log disable trigger audit_log_append_only;
do $$
declare
    r audit_log;
    running text := repeat('0', 64);
begin
    for r in select * from audit_log order by id loop
        update audit_log set prev_hash = running, row_hash = audit_row_hash(running, r)
        where id = r.id
        returning row_hash into running;
        update audit_chain_head set last_id = r.id, last_hash = running where id = 1;
    end loop;
end
$$;
alter table audit_log enable trigger audit_log_append_only;

alter table audit_log alter column prev_hash set not null, alter column row_hash set not null;

create trigger audit_log_chain before insert on audit_log
    for each row execute function audit_chain();
