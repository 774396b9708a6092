-- The durable dedup store of the lateness window (docs/usage-records.md, "Late records"): every id a flush counted,
-- as one block per (flush, event day) of 24-byte entries (16-byte tenant-scoped fingerprint, 8-byte payload digest,
-- big-endian) sorted by fingerprint after a 1-byte format header (0x01). Written in the flush transaction, so an id
-- is found exactly when its usage is committed. The engine looks a record older than its in-memory horizon up in
-- the blocks of the record's event day (a duplicate carries the same event time): the primary key is that index.
CREATE TABLE seen_id_blocks (
    consumer_group  text    NOT NULL,
    topic           text    NOT NULL,
    event_day       date    NOT NULL,
    id              bigserial,
    ids             integer NOT NULL,
    fingerprints    bytea   NOT NULL,
    PRIMARY KEY (consumer_group, topic, event_day, id)
);
-- Fingerprints are random bytes: never try to compress them (pglz would fail on every block, after the work).
ALTER TABLE seen_id_blocks ALTER COLUMN fingerprints SET STORAGE EXTERNAL;
