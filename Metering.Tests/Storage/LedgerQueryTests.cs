using Metering.Ledger;
using Metering.Ledger.Migrations;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.Statements;
using Metering.Ledger.Totals;
using Npgsql;

namespace Metering.Tests.Storage;

/// <summary>The ledger's read queries (what the API and the live-counter rebuild serve), against a real PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class LedgerQueryTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset Oct = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Nov = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Dec = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private async Task<NpgsqlDataSource> LedgerAsync()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        return NpgsqlDataSource.Create(cs);
    }

    private static async Task Total(NpgsqlDataSource db, string account, string sku, DateTimeOffset start, DateTimeOffset end, decimal quantity, long count, decimal amount, string currency = "USD")
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'edge-list', '2026-11', 'sha256:abc')
            """);
        foreach (var v in new object[] { account, sku, start, end, quantity, count, amount, currency })
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = v });
        }

        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task Adjustment(NpgsqlDataSource db, string account, string sku, DateTimeOffset bookedIn, DateTimeOffset original, decimal quantity, decimal amount, string reference)
    {
        await using var cmd = db.CreateCommand("""
            INSERT INTO adjustments (account, sku, period_start, original_period_start, quantity, record_count, amount, currency, price_book_hash, reference)
            VALUES ($1, $2, $3, $4, $5, 1, $6, 'USD', 'sha256:late', $7)
            """);
        foreach (var v in new object[] { account, sku, bookedIn, original, quantity, amount, reference })
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = v });
        }

        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Statement_returns_adjustments_apart_from_the_usage_lines_of_only_that_account_and_period()
    {
        await using var db = await LedgerAsync();
        await Total(db, "acct-1", "cdn.requests", Nov, Dec, 123456789.123456789m, 3, 49.38m);
        await Total(db, "acct-1", "ai.tokens", Nov, Dec, 5m, 2, 0.1m, "EUR");
        await Total(db, "acct-1", "cdn.requests", Oct, Nov, 7m, 1, 1m);
        await Total(db, "acct-2", "cdn.requests", Nov, Dec, 1m, 1, 1m);
        await Adjustment(db, "acct-1", "cdn.requests", Nov, Oct, 1000m, 0.02m, "late windows 2026-10-31T23:59");
        await Adjustment(db, "acct-2", "cdn.requests", Nov, Oct, 1m, 5m, "other account");
        await Adjustment(db, "acct-1", "ai.tokens", Nov, Oct, 0.000000001m, 0.01m, "late windows 2026-10-31T23:58");

        var statement = await PeriodStatementQuery.ReadAsync(db, "acct-1", Nov, CancellationToken.None);

        // Usage lines: the two totals of the period, by SKU, exact; the adjustments of the same SKUs are not summed in.
        Assert.Equal(
            [("ai.tokens", 5m, 2L, 0.1m, "EUR"), ("cdn.requests", 123456789.123456789m, 3L, 49.38m, "USD")],
            statement.Lines.Select(l => (l.Sku, l.Quantity, l.RecordCount, l.Amount, l.Currency)));
        Assert.All(statement.Lines, l => Assert.Equal(("edge-list", "2026-11", "sha256:abc"), (l.PriceBook, l.PriceBookVersion, l.PriceBookHash)));

        // Adjustments: their own list, in booking order, with the closed period they belong to.
        Assert.Equal(
            [("cdn.requests", 1000m, 0.02m, "late windows 2026-10-31T23:59"), ("ai.tokens", 0.000000001m, 0.01m, "late windows 2026-10-31T23:58")],
            statement.Adjustments.Select(a => (a.Sku, a.Quantity, a.Amount, a.Reference)));
        Assert.True(statement.Adjustments[0].Id < statement.Adjustments[1].Id);
        Assert.All(statement.Adjustments, a => Assert.Equal((Oct, 1L, "USD", "sha256:late"), (a.OriginalPeriodStart, a.RecordCount, a.Currency, a.PriceBookHash)));

        Assert.Equal(Dec, statement.PeriodEnd);
        Assert.False(statement.Closed);
    }

    [Fact]
    public async Task Statement_of_a_closed_period_is_closed_and_takes_the_end_from_the_close_when_the_account_has_no_totals()
    {
        await using var db = await LedgerAsync();
        await Total(db, "acct-1", "cdn.requests", Oct, Nov, 10m, 4, 4.5m);
        await PeriodCloser.CloseAsync(db, Oct, CancellationToken.None, now: Dec);

        var withTotals = await PeriodStatementQuery.ReadAsync(db, "acct-1", Oct, CancellationToken.None);
        Assert.True(withTotals.Closed);
        Assert.Equal(Nov, withTotals.PeriodEnd);
        Assert.Equal(4.5m, Assert.Single(withTotals.Lines).Amount);

        var unknownAccount = await PeriodStatementQuery.ReadAsync(db, "acct-9", Oct, CancellationToken.None);
        Assert.Empty(unknownAccount.Lines);
        Assert.Empty(unknownAccount.Adjustments);
        Assert.True(unknownAccount.Closed);
        Assert.Equal(Nov, unknownAccount.PeriodEnd);

        var openAndEmpty = await PeriodStatementQuery.ReadAsync(db, "acct-1", Nov, CancellationToken.None);
        Assert.Empty(openAndEmpty.Lines);
        Assert.False(openAndEmpty.Closed);
        Assert.Null(openAndEmpty.PeriodEnd);
    }

    [Fact]
    public async Task Account_period_totals_are_ordered_by_sku_and_leave_out_other_accounts_and_periods()
    {
        await using var db = await LedgerAsync();
        await Total(db, "acct-1", "stream.minutes", Nov, Dec, 3729834m, 9, 3727.93m);
        await Total(db, "acct-1", "ai.tokens", Nov, Dec, 247095593.5m, 8, 290.51m, "EUR");
        await Total(db, "acct-1", "ai.tokens", Oct, Nov, 1m, 1, 1m);
        await Total(db, "acct-2", "ai.tokens", Nov, Dec, 1m, 1, 1m);

        var totals = await TotalsQuery.OfAccountPeriodAsync(db, "acct-1", Nov, CancellationToken.None);

        Assert.Equal(
            [new SkuTotal("ai.tokens", 8, 247095593.5m, 290.51m, "EUR"), new SkuTotal("stream.minutes", 9, 3729834m, 3727.93m, "USD")],
            totals);
        Assert.Empty(await TotalsQuery.OfAccountPeriodAsync(db, "acct-3", Nov, CancellationToken.None));
    }

    [Fact]
    public async Task Open_period_totals_leave_out_the_totals_of_closed_periods()
    {
        await using var db = await LedgerAsync();
        await Total(db, "acct-1", "ai.tokens", Oct, Nov, 1m, 1, 1m);
        await Total(db, "acct-1", "ai.tokens", Nov, Dec, 2.000000001m, 2, 0.25m);
        await Total(db, "acct-2", "cdn.requests", Nov, Dec, 3m, 3, 0.75m);
        await PeriodCloser.CloseAsync(db, Oct, CancellationToken.None, now: Dec);

        var open = await TotalsQuery.OpenPeriodsAsync(db, CancellationToken.None);

        Assert.Equal(
            [new OpenPeriodTotal("acct-1", "ai.tokens", Nov, Dec, 2, 2.000000001m, 0.25m, "USD"), new OpenPeriodTotal("acct-2", "cdn.requests", Nov, Dec, 3, 3m, 0.75m, "USD")],
            open.OrderBy(t => t.Account, StringComparer.Ordinal));
        Assert.All(open, t => Assert.Equal(TimeSpan.Zero, t.PeriodStart.Offset));
    }

    [Fact]
    public async Task Ledger_ping_is_true_on_a_live_server_and_throws_when_no_server_answers()
    {
        await using var db = await LedgerAsync();
        Assert.True(await LedgerHealth.PingAsync(db, CancellationToken.None));

        await using var unreachable = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=x;Database=x;Timeout=1");
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => LedgerHealth.PingAsync(unreachable, CancellationToken.None));
    }
}
