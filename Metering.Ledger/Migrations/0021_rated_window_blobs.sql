-- The rated-windows outbox as Arrow IPC blobs (issue 16): a flush writes its rated windows as a few compressed Arrow
-- IPC streams (one row per chunk of up to 131,072 windows) instead of a row per window, in the same transaction as
-- the totals; the exporter streams the blobs into ClickHouse as they are. The columns of a blob are those of
-- ClickHouse usage_windows (docs/analytics.md), its `id` column included.
-- Row ids: ClickHouse deduplicates by the row id, so the ids of blob rows must never meet those of rated_windows
-- (exported before the upgrade, or written by an engine of the previous release during a rolling upgrade). A blob's
-- rows take the ids 2^62 + id * 2^24 + 0 .. row_count - 1: above anything bigserial reaches, and one blob's range
-- never touches the next one's.
-- rated_windows stays: rows an older engine left unexported are drained by the exporter before the blobs; nothing
-- writes it after the upgrade.
CREATE TABLE rated_window_blobs (
    id           bigserial   PRIMARY KEY,
    first_row_id bigint      NOT NULL,
    row_count    integer     NOT NULL CHECK (row_count BETWEEN 1 AND 16777216),
    arrow        bytea       NOT NULL,
    -- the blob's amounts summed per currency, exactly (metering verify's money conservation reads them, not the blob)
    currencies   text[]      NOT NULL,
    amounts      numeric[]   NOT NULL CHECK (cardinality(amounts) = cardinality(currencies)),
    created_at   timestamptz NOT NULL DEFAULT now(),
    exported_at  timestamptz,
    CHECK (first_row_id = 4611686018427387904 + id * 16777216)
);
-- The Arrow buffers are lz4-compressed already: PostgreSQL's own compression would only spend CPU finding that out.
ALTER TABLE rated_window_blobs ALTER COLUMN arrow SET STORAGE EXTERNAL;
CREATE INDEX rated_window_blobs_unexported ON rated_window_blobs (id) WHERE exported_at IS NULL;
