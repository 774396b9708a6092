-- Accounts and their subscription terms (docs/api.md#accounts). One row per account; an account without a row is
-- billed on the list book with the list book's period rule (the engine does not read this table yet).
-- The CHECKs keep exactly what the API and `metering account set` accept storable: account ids of 1-128 UTF-8
-- bytes (the records' identifier rule), price-book ids of 1-128 of A-Z a-z 0-9 _ . -, anchor days that every
-- month has. COLLATE "C" orders accounts by their bytes, so the keyset pagination of the list is the index order.
CREATE TABLE accounts (
    account             text COLLATE "C" PRIMARY KEY CHECK (octet_length(account) BETWEEN 1 AND 128),
    currency            char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    list_book           text        NOT NULL CHECK (list_book ~ '^[A-Za-z0-9_.-]{1,128}$'),
    contract_book       text                 CHECK (contract_book ~ '^[A-Za-z0-9_.-]{1,128}$'),
    subscription_start  timestamptz NOT NULL,
    subscription_end    timestamptz,
    anchor_day          smallint             CHECK (anchor_day BETWEEN 1 AND 28),
    time_zone           text                 CHECK (time_zone ~ '^[A-Za-z0-9_+/-]{1,64}$'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (subscription_end IS NULL OR subscription_end > subscription_start)
);

-- Every write that changed an account's terms: who, why, the terms before (null when the account was created) and
-- after, as jsonb with the API's field names. Setting the same terms again writes nothing.
CREATE TABLE account_changes (
    id          bigserial        PRIMARY KEY,
    account     text COLLATE "C" NOT NULL REFERENCES accounts (account),
    changed_at  timestamptz      NOT NULL DEFAULT now(),
    change      text             NOT NULL CHECK (change IN ('created', 'updated')),
    actor       text             NOT NULL CHECK (octet_length(actor) BETWEEN 1 AND 256),
    reason      text                      CHECK (octet_length(reason) BETWEEN 1 AND 1000),
    previous    jsonb,
    terms       jsonb            NOT NULL,
    CHECK ((change = 'created') = (previous IS NULL))
);
CREATE INDEX account_changes_by_account ON account_changes (account, id);
