-- A county file of a million new ballots appends two million events, and PostgreSQL checks a
-- foreign key with a query of its own for every row it inserts: the four keys of
-- `ballot_events` (its ballot, import, account and API token) cost 12 µs an event on the
-- benchmark's machine, two thirds of writing the event. The same references are now checked
-- once per statement, over all the rows it inserted (a transition table), with the same error
-- a foreign key gives (SQLSTATE 23503, the key that is missing):
alter table ballot_events
    drop constraint ballot_events_ballot_id_county_fips_fkey,
    drop constraint ballot_events_import_id_fkey,
    drop constraint ballot_events_actor_user_id_fkey,
    drop constraint ballot_events_api_token_id_fkey;

create function ballot_events_check_references() returns trigger language plpgsql as $$
declare
    missing record;
begin
    -- Planned for each statement (EXECUTE): one new event or a million call for different plans.
    execute 'select n.ballot_id, n.county_fips from new_events n
             where not exists (select from ballots b
                               where b.id = n.ballot_id and b.county_fips = n.county_fips)
             limit 1' into missing;
    if missing is not null then
        raise exception 'insert on table "ballot_events" violates foreign key constraint "ballot_events_ballot_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (ballot_id, county_fips)=(%s, %s) is not present in table "ballots".',
                                  missing.ballot_id, missing.county_fips);
    end if;
    execute 'select n.import_id as id from new_events n
             where n.import_id is not null
               and not exists (select from imports i where i.id = n.import_id) limit 1' into missing;
    if missing is not null then
        raise exception 'insert on table "ballot_events" violates foreign key constraint "ballot_events_import_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (import_id)=(%s) is not present in table "imports".', missing.id);
    end if;
    execute 'select n.actor_user_id as id from new_events n
             where n.actor_user_id is not null
               and not exists (select from admin_users u where u.id = n.actor_user_id) limit 1' into missing;
    if missing is not null then
        raise exception 'insert on table "ballot_events" violates foreign key constraint "ballot_events_actor_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (actor_user_id)=(%s) is not present in table "admin_users".', missing.id);
    end if;
    execute 'select n.api_token_id as id from new_events n
             where n.api_token_id is not null
               and not exists (select from api_tokens t where t.id = n.api_token_id) limit 1' into missing;
    if missing is not null then
        raise exception 'insert on table "ballot_events" violates foreign key constraint "ballot_events_api_token_fkey"'
            using errcode = 'foreign_key_violation',
                  detail = format('Key (api_token_id)=(%s) is not present in table "api_tokens".', missing.id);
    end if;
    return null;
end
$$;

create trigger ballot_events_references after insert on ballot_events
    referencing new table as new_events
    for each statement execute function ballot_events_check_references();

-- What the keys also guaranteed is that a referenced row stays as it was. Events are
-- append-only already (`refuse_change`); ballots, imports, accounts and API tokens are never
-- deleted (they end: replaced, applied or failed, disabled, revoked), and none changes its id —
-- nor a ballot its county. The database now refuses both, at no cost to other writes (the
-- update triggers fire only for statements that set those columns).
create function refuse_removal() returns trigger language plpgsql as $$
begin
    raise exception '% rows are never deleted, and keep their keys: events refer to them',
        tg_table_name using errcode = 'restrict_violation';
end
$$;

create trigger ballots_never_deleted before delete or truncate on ballots
    for each statement execute function refuse_removal();
create trigger ballots_keys_fixed before update of id, county_fips on ballots
    for each row execute function refuse_removal();
create trigger imports_never_deleted before delete or truncate on imports
    for each statement execute function refuse_removal();
create trigger imports_keys_fixed before update of id on imports
    for each row execute function refuse_removal();
create trigger admin_users_never_deleted before delete or truncate on admin_users
    for each statement execute function refuse_removal();
create trigger admin_users_keys_fixed before update of id on admin_users
    for each row execute function refuse_removal();
create trigger api_tokens_never_deleted before delete or truncate on api_tokens
    for each statement execute function refuse_removal();
create trigger api_tokens_keys_fixed before update of id on api_tokens
    for each row execute function refuse_removal();
