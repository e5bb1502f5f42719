-- Recording a message's outcome writes a new version of its row into every index the row is
-- in (the state changes, so the update cannot be HOT). The provider's message id had an index
-- that no query reads: a delivery-status callback names our message id in its URL and matches
-- the provider's id on that row (`outbox::record_delivery`). Every sent message — an email's
-- id is about fifty bytes — paid for an entry in it.
drop index notifications_by_provider_id;
