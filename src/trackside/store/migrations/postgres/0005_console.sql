-- The console's delivery latency and dead letters (issue 15, Store.delivery_latency and
-- Store.dead_letters): a shop's rows of one status by when they finished, one index range
-- instead of every delivered row the shop ever had.
CREATE INDEX outbox_finished ON outbox (shop, status, finished_at);
