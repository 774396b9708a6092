-- Usage lines per dimension group (docs/statements.md, "Lines per dimension"): a price with group_by rates each group
-- of its dimension values as a line of its own, so its totals, its late usage and its corrections are keyed by the
-- group too. '' is the one group of every ungrouped price (every row written before this migration). The group is the
-- canonical JSON text the rater builds (keys in ordinal order), compared as text: it is part of the primary key.
ALTER TABLE billing_period_totals
    ADD COLUMN dimension_group text NOT NULL DEFAULT '' CHECK (octet_length(dimension_group) <= 4096);
ALTER TABLE billing_period_totals DROP CONSTRAINT billing_period_totals_pkey;
ALTER TABLE billing_period_totals ADD PRIMARY KEY (account, sku, period_start, dimension_group);

ALTER TABLE adjustments
    ADD COLUMN dimension_group text NOT NULL DEFAULT '' CHECK (octet_length(dimension_group) <= 4096);

-- A void or amend of an event of a grouped SKU names the event's dimension values; its group under the price of
-- the event's period is stored here.
ALTER TABLE corrections
    ADD COLUMN dimension_group text NOT NULL DEFAULT '' CHECK (octet_length(dimension_group) <= 4096);

-- A re-rate's difference line of a grouped usage line names its group.
ALTER TABLE booked_adjustments
    ADD COLUMN dimension_group text NOT NULL DEFAULT '' CHECK (octet_length(dimension_group) <= 4096);
