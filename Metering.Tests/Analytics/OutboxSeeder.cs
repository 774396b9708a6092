using System.Text.Json;
using Metering.Ledger.Outbox;
using Npgsql;
using NpgsqlTypes;

namespace Metering.Tests.Analytics;

/// <summary>
/// Fills a test ledger the way LedgerWriter leaves it: rated_windows (the outbox) plus billing_period_totals equal to
/// the outbox sums per (account, sku, period). Random but seeded: accounts, SKUs, dimensions, minute windows over two
/// monthly periods, quantities with 9 decimals, amounts that are sometimes negative.
/// </summary>
internal static class OutboxSeeder
{
    public static readonly DateTimeOffset October = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    public sealed record Seeded(RatedWindowRow Row, IReadOnlyDictionary<string, string> Dims);

    /// <summary>
    /// Seeds <paramref name="rows"/> windows into the blob outbox the flushes write, <paramref name="rowsPerBlob"/> per
    /// blob, or with <paramref name="rowOutbox"/> into the row outbox an engine before migration 0021 left.
    /// </summary>
    public static async Task<List<Seeded>> SeedAsync(NpgsqlDataSource db, int rows, int seed, string[]? accounts = null, bool rowOutbox = false, int rowsPerBlob = 100)
    {
        var random = new Random(seed);
        accounts ??= ["acct-1", "acct-2", "acct-3", "o'brien \\ \"quoted\"\tacct"];
        string[] skus = ["api.calls", "storage.gb", "egress.gb"];
        string[] regions = ["eu", "us", "ap"];
        var list = new List<Seeded>(rows);
        for (var i = 0; i < rows; i++)
        {
            // windows spread over the last 3 days of October and the first 3 of November, on minute boundaries
            var start = November.AddMinutes(random.Next(-3 * 1440, 3 * 1440));
            var dims = new Dictionary<string, string>(StringComparer.Ordinal);
            if (random.Next(4) != 0)
            {
                dims["region"] = regions[random.Next(regions.Length)];
            }

            if (random.Next(3) == 0)
            {
                dims["tier"] = random.Next(2) == 0 ? "gold" : "silver";
            }

            var quantity = random.NextInt64(1, 1_000_000_000_000) / 1_000_000_000m;
            var amount = random.NextInt64(-1_000_000, 50_000_000_000) / 1_000_000_000m;
            var period = start < November ? October : November;
            list.Add(new Seeded(
                new RatedWindowRow(0, accounts[random.Next(accounts.Length)], skus[random.Next(skus.Length)], start, start.AddMinutes(1),
                    JsonSerializer.Serialize(dims), quantity, random.Next(1, 1000), amount, "USD", "hash-" + random.Next(2), period),
                dims));
        }

        if (!rowOutbox)
        {
            await using var connection = await db.OpenConnectionAsync();
            await RatedWindowBlobOutbox.WriteAsync(connection, list.Count, (blob, id, i) =>
            {
                var r = list[i].Row;
                list[i] = list[i] with { Row = r with { Id = id } };
                blob.Append(id, r.Account, r.Sku, r.WindowStart, r.WindowEnd, JsonbText(list[i].Dims), r.Quantity, r.RecordCount, r.Amount, r.Currency, r.PriceBookHash, r.PeriodStart);
            }, default, rowsPerBlob);
            await RebuildTotalsAsync(db);
            return list;
        }

        await using (var connection = await db.OpenConnectionAsync())
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY rated_windows (account, sku, window_start, window_end, dimensions, quantity, record_count, amount, currency, price_book_hash, period_start) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var s in list)
            {
                var r = s.Row;
                await copy.StartRowAsync();
                await copy.WriteAsync(r.Account, NpgsqlDbType.Text);
                await copy.WriteAsync(r.Sku, NpgsqlDbType.Text);
                await copy.WriteAsync(r.WindowStart.UtcDateTime, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(r.WindowEnd.UtcDateTime, NpgsqlDbType.TimestampTz);
                await copy.WriteAsync(r.Dimensions, NpgsqlDbType.Jsonb);
                await copy.WriteAsync(r.Quantity, NpgsqlDbType.Numeric);
                await copy.WriteAsync(r.RecordCount, NpgsqlDbType.Bigint);
                await copy.WriteAsync(r.Amount, NpgsqlDbType.Numeric);
                await copy.WriteAsync(r.Currency, NpgsqlDbType.Char);
                await copy.WriteAsync(r.PriceBookHash, NpgsqlDbType.Text);
                await copy.WriteAsync(r.PeriodStart.UtcDateTime, NpgsqlDbType.TimestampTz);
            }

            await copy.CompleteAsync();
        }

        await RebuildTotalsAsync(db);
        return list;
    }

    /// <summary>The dimensions as jsonb prints them (the seeded values need no escapes): shorter keys first.</summary>
    private static string JsonbText(IReadOnlyDictionary<string, string> dims) =>
        "{" + string.Join(", ", dims.OrderBy(d => d.Key.Length).ThenBy(d => d.Key, StringComparer.Ordinal).Select(d => $"\"{d.Key}\": \"{d.Value}\"")) + "}";

    /// <summary>billing_period_totals := the sums of both outboxes (what the LedgerWriter maintains incrementally).</summary>
    public static async Task RebuildTotalsAsync(NpgsqlDataSource db)
    {
        var sums = (await RatedWindowBlobOutbox.ReadAllRowsAsync(db, default))
            .GroupBy(r => (r.Account, r.Sku, r.PeriodStart))
            .Select(g => (g.Key, Quantity: g.Sum(r => r.Quantity), Count: g.Sum(r => r.RecordCount), Amount: g.Sum(r => r.Amount), Hash: g.Max(r => r.PriceBookHash)!))
            .ToList();
        await using var cmd = db.CreateCommand("""
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            SELECT account, sku, period_start, period_start + interval '1 month', quantity, record_count, amount, 'USD', 'list', 'v1', hash
            FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::numeric[], $5::bigint[], $6::numeric[], $7::text[]) AS t(account, sku, period_start, quantity, record_count, amount, hash)
            ON CONFLICT (account, sku, period_start, dimension_group, price_from) DO UPDATE SET quantity = EXCLUDED.quantity, record_count = EXCLUDED.record_count, amount = EXCLUDED.amount
            """);
        cmd.Parameters.Add(new() { Value = sums.Select(s => s.Key.Account).ToArray() });
        cmd.Parameters.Add(new() { Value = sums.Select(s => s.Key.Sku).ToArray() });
        cmd.Parameters.Add(new() { Value = sums.Select(s => s.Key.PeriodStart.UtcDateTime).ToArray() });
        cmd.Parameters.Add(new() { Value = sums.Select(s => s.Quantity).ToArray() });
        cmd.Parameters.Add(new() { Value = sums.Select(s => s.Count).ToArray() });
        cmd.Parameters.Add(new() { Value = sums.Select(s => s.Amount).ToArray() });
        cmd.Parameters.Add(new() { Value = sums.Select(s => s.Hash).ToArray() });
        await cmd.ExecuteNonQueryAsync();
    }
}
