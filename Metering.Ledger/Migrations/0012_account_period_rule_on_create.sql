-- The period rule is fixed once billed (0011) also when the account's row is created after its usage: an account
-- billed implicitly on the list book (no row) has totals on the list book's periods, and a row created with an anchor
-- day or time zone of its own would cut its later usage on other boundaries. Same check, same lock, on INSERT too.
CREATE OR REPLACE FUNCTION accounts_period_rule_is_fixed_once_billed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A BEFORE INSERT trigger fires for an INSERT ... ON CONFLICT DO NOTHING of an existing row too: that is no creation.
    IF (TG_OP = 'INSERT' AND (NEW.anchor_day IS NOT NULL OR NEW.time_zone IS NOT NULL)
        AND NOT EXISTS (SELECT 1 FROM accounts WHERE account = NEW.account))
       OR (TG_OP = 'UPDATE' AND (NEW.anchor_day IS DISTINCT FROM OLD.anchor_day OR NEW.time_zone IS DISTINCT FROM OLD.time_zone)) THEN
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
DROP TRIGGER accounts_period_rule_fixed ON accounts;
CREATE TRIGGER accounts_period_rule_fixed BEFORE INSERT OR UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_period_rule_is_fixed_once_billed();
