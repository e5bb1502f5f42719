-- Each channel's queue is an index of its own. The one queue index led by the channel,
-- (channel, not_before, id), put every new email's entry in the middle of the index (emails
-- sort before texts), where each insert descends from the root; measured on the benchmark's
-- database it cost more than the other two indexes of the outbox together: 175 ms of 590 per
-- batch of 56,436 messages (the insert with and without it, rolled back, three runs each),
-- against 50 ms for an index without the channel in its key. A mailing queues its messages
-- with the same `not_before` and rising ids, so in a channel's own index each one goes at the
-- right end, where PostgreSQL appends without descending. The enqueue of a bulk change of
-- 1,000,000 ballots (1,129,964 messages): 12.8–13.9 s before, 11.3 s after (README,
-- Benchmarks). A worker claims one channel at a time, with the channel written into its
-- statement (`outbox::claim`), so the plan knows which index to read.
drop index notifications_due;
create index notifications_due_email on notifications (not_before, id)
    where state = 'queued' and channel = 'email';
create index notifications_due_sms on notifications (not_before, id)
    where state = 'queued' and channel = 'sms';
create index notifications_due_voice on notifications (not_before, id)
    where state = 'queued' and channel = 'voice';
