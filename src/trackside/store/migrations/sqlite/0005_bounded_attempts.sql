-- A row retried for days must not grow the attempts table without bound: per outbox row keep
-- the first 5 attempts (what went wrong at first) and the last 20 (what is going wrong now),
-- and count the ones in between that were not kept. The trigger covers every code path that
-- inserts attempts. Keep the numbers in step with trackside.store.ATTEMPTS_KEPT_FIRST / _LAST.
ALTER TABLE outbox ADD COLUMN attempts_not_kept INTEGER NOT NULL DEFAULT 0;

UPDATE outbox SET attempts_not_kept =
    (SELECT COUNT(*) FROM attempts a WHERE a.outbox_id = outbox.id) - 25
WHERE (SELECT COUNT(*) FROM attempts a WHERE a.outbox_id = outbox.id) > 25;

DELETE FROM attempts WHERE id IN (
    SELECT id FROM (
        SELECT id,
               ROW_NUMBER() OVER (PARTITION BY outbox_id ORDER BY id) AS from_first,
               ROW_NUMBER() OVER (PARTITION BY outbox_id ORDER BY id DESC) AS from_last
        FROM attempts
    ) WHERE from_first > 5 AND from_last > 20
);

CREATE TRIGGER attempts_bounded AFTER INSERT ON attempts
WHEN (SELECT COUNT(*) FROM attempts WHERE outbox_id = NEW.outbox_id) > 25
BEGIN
    UPDATE outbox SET attempts_not_kept = attempts_not_kept + 1 WHERE id = NEW.outbox_id;
    DELETE FROM attempts WHERE id =
        (SELECT id FROM attempts WHERE outbox_id = NEW.outbox_id ORDER BY id LIMIT 1 OFFSET 5);
END;
