-- The outbox takes a million rows in one bulk change (counties mail in bursts of millions), and
-- PostgreSQL checks a foreign key with a query per inserted row: the three on `notifications`
-- cost three quarters of the time of writing it (2.9 s of 4.0 s per 57,000 rows, measured on
-- the benchmark's database; the one to the hash-partitioned `ballot_events` alone 2.5 s). Every
-- row is written by a statement that reads the subscription (and the spine's own locked
-- ballot and new event) it names, so a reference cannot be wrong when written; it cannot
-- dangle later either: events are append-only (`refuse_change`), and subscriptions are never
-- deleted — they end with `cancelled_at`, and from now on the database refuses their deletion.
alter table notifications drop constraint notifications_ballot_id_event_id_fkey;
alter table notifications drop constraint notifications_county_fips_fkey;
alter table notifications drop constraint notifications_subscription_id_fkey;

create function refuse_delete() returns trigger language plpgsql as $$
begin
    raise exception '% rows are never deleted: they end (cancelled_at) and stay for the record',
        tg_table_name using errcode = 'restrict_violation';
end
$$;
create trigger subscriptions_never_deleted before delete on subscriptions
    for each row execute function refuse_delete();
create trigger subscriptions_no_truncate before truncate on subscriptions
    for each statement execute function refuse_delete();

-- One index fewer to maintain per message: the once-per-(event, subscription) key, led by the
-- subscription, also finds a subscription's messages (cancelling them, its history).
drop index notifications_once_per_event;
drop index notifications_by_subscription;
create unique index notifications_once_per_event on notifications (subscription_id, event_id);
