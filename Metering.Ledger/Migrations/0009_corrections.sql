-- Corrections (docs/ledger.md#corrections, docs/api.md#corrections): void or amend one usage event by its id, and
-- manual credits and debits, each with an idempotency key, the actor and a reason. The engine keeps no raw events
-- (only per-period totals and dedup fingerprints), so a void or amend names the event as it was sent: sku, event
-- time and the quantity recorded. Rows are never updated or deleted: the table is its own audit trail. Corrections
-- never change billing_period_totals; statements add the rows booked into their period (booked_period_start).
-- The CHECKs keep exactly what the API and `metering correct` accept storable.
CREATE TABLE corrections (
    id                    bigserial        PRIMARY KEY,
    idempotency_key       text             NOT NULL UNIQUE CHECK (octet_length(idempotency_key) BETWEEN 1 AND 128),
    account               text COLLATE "C" NOT NULL CHECK (octet_length(account) BETWEEN 1 AND 128),
    kind                  text             NOT NULL CHECK (kind IN ('void', 'amend', 'credit', 'debit')),
    event_id              text                      CHECK (octet_length(event_id) BETWEEN 1 AND 128),
    sku                   text                      CHECK (octet_length(sku) BETWEEN 1 AND 128),
    event_time            timestamptz,
    original_period_start timestamptz,              -- the billing period of event_time (void, amend)
    booked_period_start   timestamptz      NOT NULL, -- the period whose statement carries the correction
    revision              integer                   CHECK (revision >= 1), -- n-th correction of the event (void, amend)
    original_quantity     numeric(38,9)             CHECK (original_quantity >= 0 AND original_quantity < 1e18),
    new_quantity          numeric(38,9)             CHECK (new_quantity >= 0 AND new_quantity < 1e18),
    quantity_delta        numeric(38,9),            -- new_quantity - original_quantity
    amount                numeric(38,9)             CHECK (abs(amount) < 1e18 AND amount = round(amount, 3)), -- credit < 0, debit > 0
    currency              char(3)                   CHECK (currency ~ '^[A-Z]{3}$'),
    actor                 text             NOT NULL CHECK (octet_length(actor) BETWEEN 1 AND 256),
    reason                text             NOT NULL CHECK (octet_length(reason) BETWEEN 1 AND 1000),
    created_at            timestamptz      NOT NULL DEFAULT now(),
    -- Every nullable operand is tested IS NOT NULL in the same conjunction: a NULL would otherwise pass the CHECK.
    CHECK (CASE WHEN kind IN ('void', 'amend') THEN
        event_id IS NOT NULL AND sku IS NOT NULL AND event_time IS NOT NULL AND original_period_start IS NOT NULL
        AND revision IS NOT NULL AND original_quantity IS NOT NULL AND new_quantity IS NOT NULL AND quantity_delta IS NOT NULL
        AND quantity_delta = new_quantity - original_quantity AND booked_period_start >= original_period_start
        AND amount IS NULL AND currency IS NULL AND (kind = 'amend' OR new_quantity = 0)
      ELSE
        event_id IS NULL AND sku IS NULL AND event_time IS NULL AND original_period_start IS NULL AND revision IS NULL
        AND original_quantity IS NULL AND new_quantity IS NULL AND quantity_delta IS NULL
        AND amount IS NOT NULL AND currency IS NOT NULL AND amount <> 0 AND (kind = 'credit') = (amount < 0)
      END)
);
-- One event's corrections form a chain: revision 1, 2, ... (each amend starts from the previous one's new quantity),
-- and at most one of them is a void (nothing follows it).
CREATE UNIQUE INDEX corrections_event_revision ON corrections (account, event_id, revision);
CREATE UNIQUE INDEX corrections_one_void ON corrections (account, event_id) WHERE kind = 'void';
CREATE INDEX corrections_by_booked_period ON corrections (account, booked_period_start);
CREATE INDEX corrections_by_account ON corrections (account, id);
