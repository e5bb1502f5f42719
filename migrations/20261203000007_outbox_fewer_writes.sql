-- Every message is written three times: queued by the spine, then (until now) marked `sending`
-- by the worker that claims it, then `sent`. Each write of a row whose state changes puts a new
-- entry in every one of its indexes, so an index fewer is a write fewer three times over.
--
-- `notifications_by_ballot` served two readers, both of which can start from the ballot's
-- voter instead: superseding queued messages (the spine already joins the voter's
-- subscriptions to queue the new ones, and `notifications_once_per_event` is led by the
-- subscription), and a ballot record's message list in the portal. That list also shows the
-- messages of subscriptions since cancelled, so the voter's subscriptions are indexed whole,
-- not only the active ones (a subscription is a small row, written once or twice in its life).
drop index notifications_by_ballot;
drop index subscriptions_by_voter;
create index subscriptions_by_voter on subscriptions (voter_id);
