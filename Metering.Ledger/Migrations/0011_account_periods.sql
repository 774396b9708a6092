-- Account billing periods (docs/statements.md, "Account billing periods"). An account with an anchor day or a time
-- zone of its own (accounts.anchor_day, accounts.time_zone) books its usage into its own periods, and a period close
-- closes its own period too. Accounts that share the same stored (anchor_day, time_zone) share their periods and
-- their closes: one row here per closed period of such a rule group.
CREATE TABLE closed_rule_periods (
    anchor_day    smallint    NOT NULL CHECK (anchor_day BETWEEN 0 AND 28),    -- 0: the account sets none (the list book's)
    time_zone     text        NOT NULL CHECK (octet_length(time_zone) <= 64), -- '': the account sets none (UTC)
    period_start  timestamptz NOT NULL,
    period_end    timestamptz NOT NULL CHECK (period_end > period_start),
    label_start   timestamptz NOT NULL,                                      -- the list-book period whose close closed it
    closed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (anchor_day, time_zone, period_start),
    CHECK (anchor_day > 0 OR time_zone <> '')
);

-- The flush reads the rules of the accounts it books; almost all accounts have none, so the index holds only those.
CREATE INDEX accounts_with_own_period_rule ON accounts (account) WHERE anchor_day IS NOT NULL OR time_zone IS NOT NULL;

-- An account's period rule cannot change once usage is booked under it: its totals, late usage and statements are
-- cut by that rule, and a change would leave them on boundaries the account no longer has. The check takes the
-- flush/close advisory lock exclusively ("metering" in ASCII, as PeriodCloser.CloseLockKey), so no flush that read
-- the old rule is still committing totals when it runs, and none reads the old rule after it.
CREATE FUNCTION accounts_period_rule_is_fixed_once_billed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.anchor_day IS DISTINCT FROM OLD.anchor_day OR NEW.time_zone IS DISTINCT FROM OLD.time_zone THEN
        PERFORM pg_advisory_xact_lock(7882834701841952359);
        IF EXISTS (SELECT 1 FROM billing_period_totals WHERE account = NEW.account)
           OR EXISTS (SELECT 1 FROM adjustments WHERE account = NEW.account)
           OR EXISTS (SELECT 1 FROM statements WHERE account = NEW.account) THEN
            RAISE EXCEPTION 'account % has usage booked under its billing-period rule; the anchor day and time zone cannot change any more', NEW.account
                USING ERRCODE = 'MT001', HINT = 'period_rule_in_use';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_period_rule_fixed BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_period_rule_is_fixed_once_billed();
