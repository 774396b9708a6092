-- The account directory (Metering.Ledger/Accounts/AccountDirectory, docs/api.md#accounts) LISTENs on
-- 'metering_accounts' and reloads the account ids when the set of accounts changed. A row trigger, not a statement
-- trigger: an INSERT ... ON CONFLICT DO NOTHING that inserted nothing (the flush's auto-create racing another
-- writer) must not wake every directory. PostgreSQL folds identical notifications of one transaction into one and
-- delivers it at commit, so a transaction that creates a thousand accounts sends one. Updates do not change the set.
CREATE FUNCTION metering_accounts_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('metering_accounts', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_changed_rows AFTER INSERT OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION metering_accounts_changed();
CREATE TRIGGER accounts_changed_truncate AFTER TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION metering_accounts_changed();
