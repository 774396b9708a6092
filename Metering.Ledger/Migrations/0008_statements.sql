-- Final statements (docs/statements.md): written by `metering period close` inside the close transaction, one per
-- account with anything to bill in the period. `canonical` is the statement's canonical text (StatementHash), from
-- which it is read back; `content_hash` is its SHA-256, checked on every read. `inputs` lists what it was built
-- from: the period-total rows, the late-usage (adjustments) ids, the correction ids, the booked adjustment ids and
-- the price-book versions. A final statement never changes: the trigger refuses UPDATE and DELETE.
CREATE TABLE statements (
    id             bigserial        PRIMARY KEY,
    account        text COLLATE "C" NOT NULL CHECK (octet_length(account) BETWEEN 1 AND 128),
    period_start   timestamptz      NOT NULL,
    period_end     timestamptz      NOT NULL CHECK (period_end > period_start),
    content_hash   text             NOT NULL CHECK (content_hash ~ '^sha256:[0-9a-f]{64}$'),
    canonical      text             NOT NULL,
    inputs         jsonb            NOT NULL,
    finalized_at   timestamptz      NOT NULL DEFAULT now(),
    UNIQUE (period_start, account)
);

CREATE FUNCTION statements_are_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'final statement % of account % is immutable: book a correction or re-rate instead', OLD.id, OLD.account;
END
$$;
CREATE TRIGGER statements_are_immutable BEFORE UPDATE OR DELETE ON statements FOR EACH ROW EXECUTE FUNCTION statements_are_immutable();

-- Adjustment lines booked with a fixed amount (today: a re-rate applied with `metering rerate --apply`), into the
-- open period `booked_period_start` of the account. Late usage and corrections are not here: their amounts are the
-- statement difference, computed when the statement is built (docs/statements.md, "Late usage and corrections").
CREATE TABLE booked_adjustments (
    id                   bigserial        PRIMARY KEY,
    account              text COLLATE "C" NOT NULL CHECK (octet_length(account) BETWEEN 1 AND 128),
    booked_period_start  timestamptz      NOT NULL,
    kind                 text             NOT NULL CHECK (kind IN ('rerate')),
    reference            text             NOT NULL,
    sku                  text,
    quantity             numeric(38,9),
    amount               numeric(38,9)    NOT NULL,
    currency             char(3)          NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    reason               text             NOT NULL CHECK (octet_length(reason) BETWEEN 1 AND 1000),
    actor                text             NOT NULL CHECK (octet_length(actor) BETWEEN 1 AND 256),
    batch                text             NOT NULL,
    created_at           timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX booked_adjustments_by_period ON booked_adjustments (booked_period_start, account);
