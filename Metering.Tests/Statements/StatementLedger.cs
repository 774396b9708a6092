using Metering.Ledger.Migrations;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Statements;

/// <summary>
/// A fresh migrated ledger and the rows the engine writes into it (period totals as a flush writes them, late usage as
/// a flush books it into the next open period), plus the price books the statement tests compute their amounts from.
/// </summary>
internal static class StatementLedger
{
    public static readonly DateTimeOffset Oct = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset Nov = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset Dec = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly DateTimeOffset Jan = new(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// List book "list" (USD) from October: requests 0.01 each; egress in bytes billed per GB (divide_by 10^9) at 0.05
    /// after 10 GB included. Fee platform 20.00 prorated; minimum commitment 100.00.
    /// </summary>
    public const string ListJson = """
        { "id": "list", "currency": "USD", "rounding": "half_up", "billing_period": { "type": "monthly", "anchor_day": 1 },
          "versions": [ { "version": "v1", "effective_from": "2026-10-01T00:00:00Z",
            "prices": {
              "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.01" },
              "egress": { "model": "per_unit", "unit": "GB", "convert": { "divide_by": "1000000000", "round": "none" }, "included_units": "10", "unit_price": "0.05" } },
            "fees": [ { "id": "platform", "amount": "20.00", "prorate": true } ],
            "minimum_commitment": "100.00" } ] }
        """;

    /// <summary>acct-c's contract: requests at 0.005, minimum commitment 200.00; egress and the fee stay at list.</summary>
    public const string ContractJson = """
        { "id": "acct-c-contract", "account": "acct-c", "parent": "list", "currency": "USD",
          "versions": [ { "version": "c1", "effective_from": "2026-10-01T00:00:00Z",
            "prices": { "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.005" } }, "minimum_commitment": "200.00" } ] }
        """;

    public static PriceBook List { get; } = PriceBookLoader.Load(PriceBookLoader.Utf8(ListJson), "list");

    public static PriceCatalog Prices { get; } = new(List, [PriceBookLoader.Load(PriceBookLoader.Utf8(ContractJson), "contract", List)]);

    public static async Task<NpgsqlDataSource> NewAsync(PostgresFixture postgres)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        return NpgsqlDataSource.Create(cs);
    }

    /// <summary>
    /// A period total as the flush leaves it (its running amount is not what the statement bills: the statement rates
    /// the total), with the lineage the flush stores: the book, version and hash that price it at the period's start.
    /// </summary>
    public static async Task TotalAsync(NpgsqlDataSource db, string account, string sku, DateTimeOffset start, decimal quantity, long count)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            VALUES ($1, $2, $3, $4, $5, $6, 0, 'USD', $7, $8, $9)
            ON CONFLICT (account, sku, period_start, dimension_group, price_from) DO UPDATE SET quantity = billing_period_totals.quantity + EXCLUDED.quantity,
                record_count = billing_period_totals.record_count + EXCLUDED.record_count
            """);
        var priced = Prices.Resolve(account, sku, start);
        var (book, version, hash) = priced.IsPriced ? (priced.Book!.Id, priced.Version!.Version, priced.Version.Hash) : ("unpriced", "", "");
        foreach (var v in new object[] { account, sku, start, start.AddMonths(1), quantity, count, book, version, hash })
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = v });
        }

        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Late usage for the closed period <paramref name="original"/>, booked into <paramref name="bookedIn"/>, as the flush writes it.</summary>
    public static async Task<long> LateAsync(NpgsqlDataSource db, string account, string sku, DateTimeOffset bookedIn, DateTimeOffset original, decimal quantity, long count)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO adjustments (account, sku, period_start, original_period_start, quantity, record_count, amount, currency, price_book_hash, reference)
            VALUES ($1, $2, $3, $4, $5, $6, 0, 'USD', 'sha256:running', 'late windows') RETURNING id
            """);
        foreach (var v in new object[] { account, sku, bookedIn, original, quantity, count })
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = v });
        }

        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
