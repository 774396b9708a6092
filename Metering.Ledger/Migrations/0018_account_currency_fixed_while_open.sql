-- An account's billing currency cannot change while it has usage in an open billing period (docs/api.md#accounts,
-- docs/pricebooks.md "Currencies"): the period's totals are running amounts in the old currency, its statement is
-- built in the account's stored currency, and a change would continue the totals in the new currency on top of the
-- old amounts and re-price the period's fees, commitment, late usage and corrections in it. The account model has no
-- effective-dated terms, so the change is refused until every period with usage of the account is closed.

-- Whether the period starting at p_start of an account with the stored rule (p_anchor, p_zone) is closed: the list
-- book's closes for accounts without a rule of their own, the rule group's closes otherwise (0011).
CREATE FUNCTION account_period_is_closed(p_anchor smallint, p_zone text, p_start timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_anchor IS NULL AND p_zone IS NULL
        THEN EXISTS (SELECT 1 FROM closed_periods WHERE period_start = p_start)
        ELSE EXISTS (SELECT 1 FROM closed_rule_periods
                     WHERE anchor_day = coalesce(p_anchor, 0) AND time_zone = coalesce(p_zone, '') AND period_start = p_start)
    END
$$;

-- The start of the earliest open period in which the account has usage: a total of a period not yet frozen, late
-- usage (adjustments), corrections or re-rate lines booked into a period not yet closed; null when there is none.
-- Usage never priced (a total or late usage still in 'XXX', ISO 4217's "no currency": no list book, or no price in the
-- account's currency) was charged in no currency and holds none: changing the currency then prices it for the first
-- time (the fix for a wrong currency). With p_except_currency, only rows charged in another currency count (a row
-- being created in the currency its usage was already billed in changes nothing); a void or amend has no currency
-- of its own and then does not count.
CREATE FUNCTION account_open_usage_period(p_account text, p_anchor smallint, p_zone text, p_except_currency char(3)) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT min(p) FROM (
        SELECT t.period_start AS p FROM billing_period_totals t
        WHERE t.account = p_account AND NOT t.closed AND t.currency <> 'XXX' AND (p_except_currency IS NULL OR t.currency <> p_except_currency)
        UNION ALL
        SELECT a.period_start FROM adjustments a
        WHERE a.account = p_account AND a.currency <> 'XXX' AND (p_except_currency IS NULL OR a.currency <> p_except_currency)
          AND NOT account_period_is_closed(p_anchor, p_zone, a.period_start)
        UNION ALL
        SELECT c.booked_period_start FROM corrections c
        WHERE c.account = p_account AND (p_except_currency IS NULL OR (c.currency IS NOT NULL AND c.currency <> p_except_currency))
          AND NOT account_period_is_closed(p_anchor, p_zone, c.booked_period_start)
        UNION ALL
        SELECT b.booked_period_start FROM booked_adjustments b
        WHERE b.account = p_account AND (p_except_currency IS NULL OR b.currency <> p_except_currency)
          AND NOT account_period_is_closed(p_anchor, p_zone, b.booked_period_start)
    ) u
$$;

-- The check takes the flush/close advisory lock exclusively (as 0011: "metering" in ASCII, PeriodCloser.CloseLockKey),
-- so no flush that read the old currency is still committing totals when it runs, and none reads the old one after it.
-- The flush itself creates the rows of first-usage accounts (FirstUsageAccounts) while holding that lock shared, and
-- marks those inserts (metering.first_usage_accounts, transaction-local): they are not checked at all. Such an account
-- was rated in the list book's currency, the one its row gets, so no currency changes; and a flush must not ask for
-- the lock exclusively (two flushes would deadlock), nor run a usage lookup per new account (10,000 of them halved the
-- main job's rate).
CREATE FUNCTION accounts_currency_is_fixed_while_open() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    open_period  timestamptz;
BEGIN
    IF TG_OP = 'INSERT' AND current_setting('metering.first_usage_accounts', true) = 'on' THEN
        RETURN NEW;
    END IF;

    IF TG_OP = 'UPDATE' THEN
        IF NEW.currency IS NOT DISTINCT FROM OLD.currency THEN
            RETURN NEW;
        END IF;
    -- A BEFORE INSERT trigger fires for an INSERT ... ON CONFLICT DO NOTHING of an existing row too: that is no creation.
    ELSIF EXISTS (SELECT 1 FROM accounts WHERE account = NEW.account) THEN
        RETURN NEW;
    END IF;

    PERFORM pg_advisory_xact_lock(7882834701841952359);

    IF TG_OP = 'UPDATE' THEN
        open_period := account_open_usage_period(NEW.account, OLD.anchor_day, OLD.time_zone, NULL);
    ELSE
        open_period := account_open_usage_period(NEW.account, NEW.anchor_day, NEW.time_zone, NEW.currency);
    END IF;

    IF open_period IS NOT NULL THEN
        RAISE EXCEPTION 'account % has usage in its open billing period starting %: its currency cannot change to % until that period is closed',
                NEW.account, to_char(open_period AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), NEW.currency
            USING ERRCODE = 'MT002', HINT = 'currency_in_use',
                  DETAIL = to_char(open_period AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
    END IF;

    RETURN NEW;
END $$;

CREATE TRIGGER accounts_currency_fixed BEFORE INSERT OR UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_currency_is_fixed_while_open();
