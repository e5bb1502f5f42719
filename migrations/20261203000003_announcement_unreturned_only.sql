-- A reminder to return a ballot need not go to voters whose ballot has come back: an
-- announcement may be aimed at voters whose live ballot is still out (issued, mailed, on its
-- way, delivered or undeliverable).
alter table announcements add column unreturned_only boolean not null default false;
