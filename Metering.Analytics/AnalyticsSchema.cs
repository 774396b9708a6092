using System.Globalization;

namespace Metering.Analytics;

/// <summary>
/// The ClickHouse DDL and the table names, shared by every transport (embedded chDB and the HTTP server) so both
/// create exactly the same tables. See docs/analytics.md for the design.
/// <para>
/// <c>usage_windows</c> is a ReplacingMergeTree whose sorting key ends with the outbox id: a row exported twice (a
/// batch re-sent after a crash between the ClickHouse insert and the PostgreSQL mark, or two exporters racing) is the
/// same (account, sku, window_start, id) and collapses to one row; every query reads the table with <c>FINAL</c>, so
/// answers are exact before any background merge has run.
/// </para>
/// </summary>
public sealed class AnalyticsSchema
{
    /// <summary>Default retention of rated windows in ClickHouse (400 days: a full year plus the open period).</summary>
    public const int DefaultTtlDays = 400;

    /// <summary>Creates the schema for <paramref name="database"/> with <paramref name="ttlDays"/> of retention (0 = keep forever).</summary>
    public AnalyticsSchema(string database = "metering", int ttlDays = DefaultTtlDays)
    {
        if (string.IsNullOrEmpty(database) || !database.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') || char.IsAsciiDigit(database[0]))
        {
            throw new ArgumentException($"ClickHouse database name '{database}' must be letters, digits and '_' (not starting with a digit)", nameof(database));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(ttlDays);
        Database = database;
        TtlDays = ttlDays;
    }

    /// <summary>The ClickHouse database holding the tables.</summary>
    public string Database { get; }

    /// <summary>Retention in days after window_start; 0 means no TTL.</summary>
    public int TtlDays { get; }

    /// <summary>The qualified name of the rated-windows table.</summary>
    public string UsageWindows => $"{Database}.usage_windows";

    /// <summary>The columns an insert carries, in the Arrow batch's order.</summary>
    public static IReadOnlyList<string> InsertColumns { get; } =
        ["id", "account", "sku", "window_start", "window_end", "dimensions", "quantity", "record_count", "amount", "currency", "price_book_hash", "period_start"];

    /// <summary>The INSERT head for an Arrow IPC stream (the transport appends FORMAT ArrowStream or streams the body).</summary>
    public string InsertHead => $"INSERT INTO {UsageWindows} ({string.Join(", ", InsertColumns)})";

    /// <summary>Statements that create the database and tables; each is idempotent (IF NOT EXISTS).</summary>
    public IReadOnlyList<string> CreateStatements()
    {
        var ttl = TtlDays == 0 ? "" : $"\nTTL toDateTime(window_start) + INTERVAL {TtlDays.ToString(CultureInfo.InvariantCulture)} DAY";
        return
        [
            $"CREATE DATABASE IF NOT EXISTS {Database}",
            $"""
            CREATE TABLE IF NOT EXISTS {UsageWindows}
            (
                id              UInt64 COMMENT 'rated_windows.id in PostgreSQL: the dedup key',
                account         String,
                sku             LowCardinality(String),
                window_start    DateTime64(3, 'UTC'),
                window_end      DateTime64(3, 'UTC'),
                dimensions      String COMMENT 'kept dimensions as canonical JSON (PostgreSQL jsonb text)',
                dims            Map(String, String) MATERIALIZED CAST(JSONExtractKeysAndValues(dimensions, 'String'), 'Map(String, String)'),
                quantity        Decimal(38, 9),
                record_count    UInt64,
                amount          Decimal(38, 9) COMMENT 'this window''s incremental charge; may be negative',
                currency        LowCardinality(String),
                price_book_hash LowCardinality(String),
                period_start    DateTime64(3, 'UTC')
            )
            ENGINE = ReplacingMergeTree
            PARTITION BY toYYYYMM(window_start)
            ORDER BY (account, sku, window_start, id){ttl}
            """,
        ];
    }
}
