-- The price-book registry (docs/pricebooks.md, "The registry"): price_book_versions is the one source every engine,
-- `serve` and the CLI rate from. Every change to it bumps one revision, and NOTIFYs it on channel
-- metering_price_books, so running engines reload at once (and a flush that still holds an older revision reloads
-- inside its own transaction before it rates). A version's end can be set once, by publishing the version that
-- supersedes it; its hash does not cover the end, so the lineage of lines it rated stays valid.
CREATE TABLE price_book_registry (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    revision   bigint  NOT NULL
);
INSERT INTO price_book_registry (singleton, revision) VALUES (true, 0);

-- Every hash on a rated line or statement is looked up by GET /v1/pricebooks/by-hash/{hash}.
CREATE INDEX price_book_versions_by_hash ON price_book_versions (version_hash);

CREATE FUNCTION price_book_versions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r bigint;
BEGIN
    UPDATE price_book_registry SET revision = revision + 1 RETURNING revision INTO r;
    PERFORM pg_notify('metering_price_books', r::text);
    RETURN NULL;
END $$;
CREATE TRIGGER price_book_versions_changed AFTER INSERT OR UPDATE OR DELETE ON price_book_versions
    FOR EACH STATEMENT EXECUTE FUNCTION price_book_versions_changed();
