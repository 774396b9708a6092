-- The exactly-once ledger (docs/operations-postgres.md describes every table).

-- Billing-period totals: what invoicing reads. One row per (account, sku, period).
CREATE TABLE billing_period_totals (
    account            text          NOT NULL,
    sku                text          NOT NULL,
    period_start       timestamptz   NOT NULL,
    period_end         timestamptz   NOT NULL,
    quantity           numeric(38,9) NOT NULL,          -- cumulative raw quantity, exact
    record_count       bigint        NOT NULL,
    amount             numeric(38,9) NOT NULL,          -- charged so far: round(price(quantity)), minor units
    currency           char(3)       NOT NULL,
    price_book         text          NOT NULL,
    price_book_version text          NOT NULL,
    price_book_hash    text          NOT NULL,          -- lineage: sha256 of the version that priced it
    closed             boolean       NOT NULL DEFAULT false,
    updated_at         timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (account, sku, period_start)
);

-- Rated windows awaiting the analytics sink (outbox), written in the same transaction as the totals.
CREATE TABLE rated_windows (
    id                 bigserial     PRIMARY KEY,
    account            text          NOT NULL,
    sku                text          NOT NULL,
    window_start       timestamptz   NOT NULL,
    window_end         timestamptz   NOT NULL,
    dimensions         jsonb         NOT NULL DEFAULT '{}',
    quantity           numeric(38,9) NOT NULL,
    record_count       bigint        NOT NULL,
    amount             numeric(38,9) NOT NULL,          -- this window's incremental charge (may be negative)
    currency           char(3)       NOT NULL,
    price_book_hash    text          NOT NULL,
    period_start       timestamptz   NOT NULL,
    exported_at        timestamptz                       -- set by the analytics sink once ClickHouse has it
);
CREATE INDEX rated_windows_unexported ON rated_windows (id) WHERE exported_at IS NULL;

-- Consumed offsets: the source of truth for where each partition resumes (never Kafka's committed offsets).
CREATE TABLE consumed_offsets (
    consumer_group     text          NOT NULL,
    topic              text          NOT NULL,
    partition          integer       NOT NULL,
    next_offset        bigint        NOT NULL,
    updated_at         timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Dead letters with where they came from and why.
CREATE TABLE dead_letters (
    id                 bigserial     PRIMARY KEY,
    source             text          NOT NULL,          -- 'kafka:<topic>' or 'http' or a file name
    partition          integer,
    "offset"           bigint,
    line               bigint,
    reason             text          NOT NULL,
    detail             text          NOT NULL,
    raw                bytea         NOT NULL,
    received_at        timestamptz   NOT NULL DEFAULT now()
);

-- Conservation counters per partition: read = accepted + duplicates + rejected, and accepted_quantity equals the
-- quantity in billing_period_totals (checked by `metering verify`).
CREATE TABLE conservation (
    consumer_group     text          NOT NULL,
    topic              text          NOT NULL,
    partition          integer       NOT NULL,
    read               bigint        NOT NULL DEFAULT 0,
    accepted           bigint        NOT NULL DEFAULT 0,
    duplicates         bigint        NOT NULL DEFAULT 0,
    rejected           bigint        NOT NULL DEFAULT 0,
    accepted_quantity  numeric(38,9) NOT NULL DEFAULT 0,
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Persisted dedup horizon: the ids first seen in one flush, as one blob of 16-byte tenant-scoped fingerprints
-- (big-endian), written in the same transaction as the totals they were counted in. A blob per flush instead of a
-- row per id keeps flushes cheap; the engine reloads the blobs within the horizon at start and after a fence.
CREATE TABLE seen_id_batches (
    id                 bigserial     PRIMARY KEY,
    consumer_group     text          NOT NULL,
    topic              text          NOT NULL,
    max_event_time     timestamptz   NOT NULL,
    fingerprints       bytea         NOT NULL,          -- n x (16-byte fingerprint, 8-byte event ticks), big-endian
    created_at         timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX seen_id_batches_time ON seen_id_batches (consumer_group, topic, max_event_time);
