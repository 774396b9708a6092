-- Re-rating (docs/statements.md, "Re-rating"): `metering rerate --apply` and POST /v1/periods/{p}/rerate with apply
-- book their difference lines into booked_adjustments (kind 'rerate', batch = the idempotency key). A batch is one
-- apply: the period it re-rated, the open period it booked into, who and why, and a fingerprint of the request (the
-- period, the account filter and the draft books), so the same key again replays it and a key reused for another
-- request is refused. Its row exists even when it booked no line, so a replay of an empty apply is one too.
CREATE TABLE rerate_batches (
    batch                text             PRIMARY KEY CHECK (octet_length(batch) BETWEEN 1 AND 200),
    period_start         timestamptz      NOT NULL,
    period_end           timestamptz      NOT NULL CHECK (period_end > period_start),
    booked_period_start  timestamptz      NOT NULL CHECK (booked_period_start >= period_end),
    account              text COLLATE "C" CHECK (octet_length(account) BETWEEN 1 AND 128),
    fingerprint          text             NOT NULL,
    accounts_compared    integer          NOT NULL CHECK (accounts_compared >= 0),
    reason               text             NOT NULL CHECK (octet_length(reason) BETWEEN 1 AND 1000),
    actor                text             NOT NULL CHECK (octet_length(actor) BETWEEN 1 AND 256),
    forced               boolean          NOT NULL,
    created_at           timestamptz      NOT NULL DEFAULT now()
);

-- The closed period a re-rate line re-rates (its `reference` names it too, as text): the next re-rate of that period
-- reads the lines already booked for it.
ALTER TABLE booked_adjustments ADD COLUMN original_period_start timestamptz;
ALTER TABLE booked_adjustments ADD CONSTRAINT booked_adjustments_rerate_names_its_period
    CHECK (kind <> 'rerate' OR original_period_start IS NOT NULL);
CREATE INDEX booked_adjustments_by_original_period ON booked_adjustments (original_period_start, account) WHERE original_period_start IS NOT NULL;
CREATE INDEX booked_adjustments_by_batch ON booked_adjustments (batch);
