-- The dead_letters table is also the outbox of the dead-letter topic: rows are written in the flush transaction and
-- produced to TOPIC.dead-letters by the engine's drainer, which sets published_at once Kafka acknowledged them (at
-- least once: a crash between the acknowledgement and the update produces them again; the key partition:offset lets
-- consumers dedup). Rows from before this migration were produced after their commit by the old code: marked as
-- published, so an upgrade does not flood the topic with history.
ALTER TABLE dead_letters ADD COLUMN published_at timestamptz;
UPDATE dead_letters SET published_at = received_at;
CREATE INDEX dead_letters_unpublished ON dead_letters (source, id) WHERE published_at IS NULL;
