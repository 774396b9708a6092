-- Prices rated per transaction (docs/pricebooks.md, "Percentage prices": per-transaction minimum and maximum, free
-- transactions, a free amount with a fixed fee): each record is a transaction whose fee depends on the ones before it
-- in the period. The flush keeps every such record here, in the same transaction as the total it belongs to, and
-- rates the total's transactions in event-time order (ties by fingerprint); the statement reads them back.
-- One row per record: its total's key, its event time (microseconds), its dedup fingerprint (16 bytes, big-endian:
-- byte order is the rating order's tie-break) and its exact amount.
CREATE TABLE usage_transactions (
    account         text        NOT NULL,
    sku             text        NOT NULL,
    period_start    timestamptz NOT NULL,
    dimension_group text        NOT NULL DEFAULT '',
    price_from      timestamptz NOT NULL,
    event_time      timestamptz NOT NULL,
    fingerprint     bytea       NOT NULL CHECK (length(fingerprint) = 16),
    amount          numeric(38, 9) NOT NULL CHECK (amount >= 0),
    PRIMARY KEY (account, sku, period_start, dimension_group, price_from, event_time, fingerprint)
);
