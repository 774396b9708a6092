-- Meters beyond sums (docs/meters.md): every total of a SKU whose price names a meter other than sum has the meter's
-- exact state here (count/min/max, the readings of a gauge, the bucket sums of a percentile), serialised as
-- Metering.Aggregates.Meters writes it, written in the same flush transaction as the total, so a replay never counts
-- a record twice. `billing_period_totals.quantity` stays the raw sum of the records (conservation: `metering verify`
-- adds it up); `quantity` here is what the meter made of the state, which the price rated; `unpriced` the reason it
-- could not be priced (meter_over_bound, meter_overflow) and `detail` what that means. A row of its own, not columns
-- of the total, because a closed period keeps taking late records into its state (its total never changes: late usage
-- is an adjustment line rated on top of the whole period's state), also for a key that had no total before the close.
CREATE TABLE meter_states (
    account         text           NOT NULL,
    sku             text           NOT NULL,
    period_start    timestamptz    NOT NULL,
    dimension_group text           NOT NULL DEFAULT '',
    price_from      timestamptz    NOT NULL,
    state           bytea          NOT NULL,
    quantity        numeric(38, 9) NOT NULL,
    unpriced        text,
    detail          text,
    updated_at      timestamptz    NOT NULL DEFAULT now(),
    PRIMARY KEY (account, sku, period_start, dimension_group, price_from)
);

-- A state that grows (a gauge's readings, a percentile's buckets) is not rewritten whole by every flush: a flush that
-- touches it adds a delta (the state of its own records) here, and once the deltas add up to the base's size they
-- are folded into meter_states.state and deleted (Metering.Ledger/Flush/MeterTotals.cs). The state of a key is its
-- base merged with all its deltas (merges are exact and order-free).
CREATE TABLE meter_state_deltas (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account         text        NOT NULL,
    sku             text        NOT NULL,
    period_start    timestamptz NOT NULL,
    dimension_group text        NOT NULL DEFAULT '',
    price_from      timestamptz NOT NULL,
    state           bytea       NOT NULL
);
CREATE INDEX meter_state_deltas_key ON meter_state_deltas (account, sku, period_start, dimension_group, price_from);

-- Late usage of a metered SKU after its period closed: `adjustments.quantity` stays the raw sum of the late records
-- (conservation), and `meter_quantity` is how much the late records moved the closed period's meter quantity (a late
-- peak of 12 over a closed 9: 3; a late 4: 0), which a statement adds to the closed period's line when it rebuilds
-- the period to price the adjustment. Null for a sum.
ALTER TABLE adjustments ADD COLUMN meter_quantity numeric(38, 9);
