-- The delivery engine: workers claim queued notifications (`for update skip locked`), send them,
-- and record what the provider said. Provider rate limits are shared by every worker here.

-- Claims look at one channel's due messages at a time.
drop index notifications_due;
create index notifications_due on notifications (channel, not_before, id) where state = 'queued';
-- Claims a crashed worker left behind.
create index notifications_claimed on notifications (claimed_at) where state = 'sending';
-- Delivery-status callbacks name the provider's id.
create index notifications_by_provider_id on notifications (provider_message_id)
    where provider_message_id is not null;

-- What a message needs beyond its template: a confirmation code to say or show, an
-- announcement's id. Wiped once the message no longer needs it.
alter table notifications add column payload jsonb;
-- The provider's last word on the message (its delivery-status callback), verbatim.
alter table notifications add column provider_status text;

-- One row per channel: how many messages the current second has used. Every worker takes its
-- share through `take_send_slots`, so a provider's limit holds across processes and machines.
create table provider_send_windows (
    channel      text primary key check (channel in ('email', 'sms', 'voice')),
    window_start timestamptz not null default 'epoch',
    used         integer not null default 0 check (used >= 0)
);
insert into provider_send_windows (channel) values ('email'), ('sms'), ('voice');

-- Grants up to `wanted` sends on `channel` in the current second, at most `per_second` in all.
create function take_send_slots(p_channel text, p_wanted integer, p_per_second integer)
returns integer
language sql volatile as $$
    with current_window as (
        select channel,
               case when window_start = date_trunc('second', clock_timestamp()) then used else 0 end
                   as used
        from provider_send_windows where channel = p_channel
        for update
    ), granted as (
        select channel, used, least(greatest(p_wanted, 0), greatest(p_per_second - used, 0)) as n
        from current_window
    )
    update provider_send_windows w
       set window_start = date_trunc('second', clock_timestamp()), used = g.used + g.n
      from granted g
     where w.channel = g.channel
    returning g.n
$$;

-- Numbers that texted STOP (or another opt-out word): nothing more goes to them by SMS until
-- they text START. `confirmed_at` is the one reply an opt-out gets; later opt-outs get silence.
create table sms_opt_outs (
    address      text primary key check (address ~ '^\+[1-9][0-9]{6,14}$'),
    keyword      text not null,
    opted_out_at timestamptz not null default now(),
    confirmed_at timestamptz
);
