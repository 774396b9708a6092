-- Quotas and spend alerts (docs/alerts.md).

-- A threshold per account and billing period: on the cumulative quantity of one SKU (raw metered units), or on the
-- account's charged amount in one currency summed over all its SKUs. Several thresholds per key are allowed (e.g. an
-- 80 % and a 100 % alert); the same (account, sku, metric, currency, threshold) exists once.
CREATE TABLE quotas (
    id                 bigserial     PRIMARY KEY,
    account            text          NOT NULL,
    sku                text,                              -- quantity quotas only
    metric             text          NOT NULL CHECK (metric IN ('quantity', 'amount')),
    threshold          numeric(38,9) NOT NULL CHECK (threshold > 0),
    currency           char(3),                           -- amount quotas only
    source             text          NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'pricebook')),
    created_at         timestamptz   NOT NULL DEFAULT now(),
    updated_at         timestamptz   NOT NULL DEFAULT now(),
    CHECK ((metric = 'quantity' AND sku IS NOT NULL AND currency IS NULL)
        OR (metric = 'amount' AND sku IS NULL AND currency IS NOT NULL))
);
CREATE UNIQUE INDEX quotas_identity ON quotas (account, coalesce(sku, ''), metric, coalesce(currency, ''), threshold);

-- Alerts outbox: written by the flush transaction that moved a total across a quota's threshold (so an alert exists
-- exactly when the crossing totals committed), delivered at least once by `metering alerts dispatch`.
-- alert_key = quota id + period start: one alert per quota per billing period.
CREATE TABLE alerts (
    id                    uuid          PRIMARY KEY DEFAULT gen_random_uuid(),  -- stable: receivers dedup on it
    alert_key             text          NOT NULL UNIQUE,
    quota_id              bigint        NOT NULL,          -- no foreign key: an alert outlives its quota
    account               text          NOT NULL,
    sku                   text,
    metric                text          NOT NULL,
    threshold             numeric(38,9) NOT NULL,
    value_before          numeric(38,9) NOT NULL,          -- the metric before the crossing flush
    value_at_crossing     numeric(38,9) NOT NULL,          -- the metric after it (>= threshold)
    currency              char(3),
    period_start          timestamptz   NOT NULL,
    period_end            timestamptz   NOT NULL,
    crossed_at            timestamptz   NOT NULL DEFAULT now(),
    delivered_kafka_at    timestamptz,
    delivered_webhook_at  timestamptz,
    attempts              integer       NOT NULL DEFAULT 0,
    next_attempt_at       timestamptz   NOT NULL DEFAULT now(),  -- back-off between dispatcher rounds
    last_error            text
);
-- The dispatcher's work lists, one per channel (an unconfigured channel's index just holds every alert, unread).
CREATE INDEX alerts_kafka_pending ON alerts (crossed_at) WHERE delivered_kafka_at IS NULL;
CREATE INDEX alerts_webhook_pending ON alerts (crossed_at) WHERE delivered_webhook_at IS NULL;
