-- Versions that take effect inside a billing period (docs/pricebooks.md, "Versions that take effect inside a period"):
-- the usage of windows starting at or after a version's effective instant is a total of its own, priced by that version
-- on top of the quantity before it. price_from is the instant the total's price applies from: the period's start for
-- the usage priced from the start (every row written before this migration), else the version's effective instant.
ALTER TABLE billing_period_totals ADD COLUMN price_from timestamptz;
UPDATE billing_period_totals SET price_from = period_start;
ALTER TABLE billing_period_totals ALTER COLUMN price_from SET NOT NULL;
ALTER TABLE billing_period_totals DROP CONSTRAINT billing_period_totals_pkey;
ALTER TABLE billing_period_totals ADD PRIMARY KEY (account, sku, period_start, dimension_group, price_from);
-- A writer that does not name the segment writes the usage priced from the period's start.
CREATE FUNCTION billing_period_totals_price_from_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.price_from := coalesce(NEW.price_from, NEW.period_start);
    RETURN NEW;
END $$;
CREATE TRIGGER billing_period_totals_price_from_default BEFORE INSERT ON billing_period_totals
    FOR EACH ROW EXECUTE FUNCTION billing_period_totals_price_from_default();
ALTER TABLE billing_period_totals ADD CONSTRAINT billing_period_totals_price_from_in_period
    CHECK (price_from >= period_start AND price_from < period_end);

-- The start of the latest window a flush booked into the total: a version may take effect inside an open period only
-- after every window already rated otherwise (publishing checks it). NULL for rows written before this migration:
-- unknown, so such a period takes no version inside it.
ALTER TABLE billing_period_totals ADD COLUMN last_window_start timestamptz;

-- Late usage and corrections of a segment name it (NULL: priced from the period's start).
ALTER TABLE adjustments ADD COLUMN price_from timestamptz;
ALTER TABLE corrections ADD COLUMN price_from timestamptz;
