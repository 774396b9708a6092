using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Rating.PeriodTotals;
using Npgsql;
using NpgsqlTypes;

namespace Metering.Ledger.Flush;

/// <summary>
/// The rated windows of a flush into <c>rated_windows</c>, the outbox the analytics exporter moves to ClickHouse: one
/// row per window with its dimensions, in rating order, by binary COPY inside the flush transaction.
/// </summary>
internal static class RatedWindowWriter
{
    /// <summary>
    /// Copies one row per charge of <paramref name="result"/>: the window of <paramref name="windows"/> it rates, with the
    /// dimensions of the aggregate row of the same position in <paramref name="rows"/> (named by <paramref name="names"/>).
    /// </summary>
    public static async Task CopyAsync(NpgsqlConnection connection, IReadOnlyList<AggregateRow> rows, IReadOnlyList<UsageWindow> windows, RecordCatalog names, PeriodTotalsResult result, CancellationToken cancellationToken)
    {
        var charges = result.Windows;
        var dimensions = new string[charges.Count];
        for (var i = 0; i < charges.Count; i++)
        {
            dimensions[i] = DimensionsJson(names, rows[charges[i].Window].DimensionSetId);
        }

        await using var copy = await connection.BeginBinaryImportAsync(
            "COPY rated_windows (account, sku, window_start, window_end, dimensions, quantity, record_count, amount, currency, price_book_hash, period_start) FROM STDIN (FORMAT BINARY)",
            cancellationToken).ConfigureAwait(false);

        // Synchronous writes into Npgsql's buffer: an await per field costs more than the field (11 per row).
        for (var i = 0; i < charges.Count; i++)
        {
            var charge = charges[i];
            var window = windows[charge.Window];
            copy.StartRow();
            copy.Write(window.Account, NpgsqlDbType.Text);
            copy.Write(window.Sku, NpgsqlDbType.Text);
            copy.Write(window.Start.UtcDateTime, NpgsqlDbType.TimestampTz);
            copy.Write(window.End.UtcDateTime, NpgsqlDbType.TimestampTz);
            copy.Write(dimensions[i], NpgsqlDbType.Jsonb);
            copy.Write(window.Quantity, NpgsqlDbType.Numeric);
            copy.Write(window.Count, NpgsqlDbType.Bigint);
            copy.Write(charge.Amount, NpgsqlDbType.Numeric);
            copy.Write(charge.Currency, NpgsqlDbType.Char);
            copy.Write(charge.PriceBookHash, NpgsqlDbType.Text);
            copy.Write(charge.PeriodStart.UtcDateTime, NpgsqlDbType.TimestampTz);
        }

        await copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string DimensionsJson(RecordCatalog names, int dimensionSetId)
    {
        if (dimensionSetId == 0)
        {
            return "{}";
        }

        var pairs = names.DescribeDimensions(dimensionSetId).ToDictionary(p => p.Key, p => p.Value);
        return System.Text.Json.JsonSerializer.Serialize(pairs, StreamingJson.Default.DictionaryStringString);
    }
}
