-- Offset gaps: ranges of a partition the broker deleted (retention) before the engine consumed them. Data loss,
-- recorded in the same transaction that moves the partition's next_offset past them; `metering verify` fails on any.
CREATE TABLE offset_gaps (
    id                 bigserial     PRIMARY KEY,
    consumer_group     text          NOT NULL,
    topic              text          NOT NULL,
    partition          integer       NOT NULL,
    from_offset        bigint        NOT NULL,          -- first missing offset
    to_offset          bigint        NOT NULL,          -- first offset that was still there (exclusive end)
    detected_at        timestamptz   NOT NULL DEFAULT now()
);

-- Closed billing periods (`metering period close`). A closed period's totals never change again: usage that
-- arrives late for it is booked as an adjustment line in the next open period (below).
CREATE TABLE closed_periods (
    period_start       timestamptz   PRIMARY KEY,
    period_end         timestamptz   NOT NULL,
    closed_at          timestamptz   NOT NULL DEFAULT now()
);

-- Adjustment lines: late usage for a closed period, priced as the closed period would have priced it
-- (round(price(closed + all late)) - round(price(closed + earlier late))), booked into the next open period.
CREATE TABLE adjustments (
    id                    bigserial     PRIMARY KEY,
    account               text          NOT NULL,
    sku                   text          NOT NULL,
    period_start          timestamptz   NOT NULL,       -- the open period the line is booked in (invoiced with)
    original_period_start timestamptz   NOT NULL,       -- the closed period the usage belongs to (the reference)
    quantity              numeric(38,9) NOT NULL,
    record_count          bigint        NOT NULL,
    amount                numeric(38,9) NOT NULL,
    currency              char(3)       NOT NULL,
    price_book_hash       text          NOT NULL,
    reference             text          NOT NULL,       -- human-readable: which period, which window range
    created_at            timestamptz   NOT NULL DEFAULT now()
);
CREATE INDEX adjustments_by_period ON adjustments (account, period_start);
CREATE INDEX adjustments_by_original ON adjustments (account, sku, original_period_start);

-- Totals are rewritten at every flush: leave room on each page so the update stays on the page (a HOT update,
-- no index insert).
ALTER TABLE billing_period_totals SET (fillfactor = 70);
