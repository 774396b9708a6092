-- Published price-book versions (`PUT /v1/pricebooks/{id}/versions/{version}`, docs/api.md). A row is immutable once
-- written: publishing the same content again is a no-op, different content under the same (book, version) is refused.
CREATE TABLE price_book_versions (
    book_id            text          NOT NULL,
    version            text          NOT NULL,
    currency           char(3)       NOT NULL,
    account            text,                            -- contract books only
    parent             text,                            -- contract books only: the list book's id
    effective_from     timestamptz   NOT NULL,
    effective_to       timestamptz,                     -- exclusive; null = open-ended
    version_hash       text          NOT NULL,          -- the loader's sha256 over id, currency and canonical version
    header_hash        text          NOT NULL,          -- sha256 over the book's canonical header (all but versions)
    document           text          NOT NULL,          -- the published JSON exactly as received
    published_at       timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (book_id, version)
);
