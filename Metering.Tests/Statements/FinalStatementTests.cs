using Metering.Ledger.Accounts;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.Statements;
using Metering.Rating.Accounts;
using Metering.Rating.Money;
using Metering.Rating.Periods;
using Metering.Rating.Statements;
using Metering.Tests.Storage;
using Npgsql;
using static Metering.Tests.Statements.StatementLedger;

namespace Metering.Tests.Statements;

/// <summary>
/// Period close writes every account's final statement in the close transaction, equal to its draft; late usage is
/// booked as the whole-statement difference of its closed period (docs/statements.md), against a real PostgreSQL.
/// Every amount is computed by hand from <see cref="StatementLedger"/>'s books.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FinalStatementTests(PostgresFixture postgres)
{
    private static readonly BillingPeriodRule Monthly = BillingPeriodRule.CalendarMonth;

    private static Task<AccountStatement?> Get(NpgsqlDataSource db, string account, DateTimeOffset start) =>
        StatementQuery.GetAsync(db, Monthly.PeriodOf(start), Monthly, Prices, account, CancellationToken.None);

    private static async Task<Statement> Statement(NpgsqlDataSource db, string account, DateTimeOffset start) => (await Get(db, account, start))!.Statement;

    private static Task<PeriodCloseResult> Close(NpgsqlDataSource db, DateTimeOffset start) =>
        PeriodCloser.CloseAsync(db, start, CancellationToken.None, Monthly, now: start.AddMonths(1).AddMinutes(30), prices: Prices);

    /// <summary>November: acct-u under its commitment, acct-o over it, acct-c on its contract, acct-n subscribed from 16 November without usage.</summary>
    private async Task<NpgsqlDataSource> NovemberAsync()
    {
        var db = await NewAsync(postgres);
        await TotalAsync(db, "acct-u", "requests", Nov, 5_000m, 5_000);
        await TotalAsync(db, "acct-o", "requests", Nov, 15_000m, 15_000);
        await TotalAsync(db, "acct-o", "egress", Nov, 30_000_000_000m, 30);
        await TotalAsync(db, "acct-c", "requests", Nov, 10_000m, 10_000);
        await AccountStore.SetAsync(db, new AccountTerms("acct-n", Currency.Get("USD"), "list", null, new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero), null, null, null),
            "test", "mid-month start", CancellationToken.None);
        return db;
    }

    [Fact]
    public async Task Close_writes_a_final_statement_per_account_equal_to_its_draft()
    {
        await using var db = await NovemberAsync();
        var drafts = await StatementQuery.ListAsync(db, Monthly.PeriodOf(Nov), Monthly, Prices, null, 100, CancellationToken.None);
        Assert.Equal(["acct-c", "acct-n", "acct-o", "acct-u"], drafts.Select(d => d.Statement.Account));
        Assert.All(drafts, d => Assert.Equal(("draft", false, (string?)null), (d.Status, d.PeriodClosed, d.StatementId)));

        var close = await Close(db, Nov);
        Assert.Equal(4, close.StatementsWritten);

        var finals = await StatementQuery.ListAsync(db, Monthly.PeriodOf(Nov), Monthly, Prices, null, 100, CancellationToken.None);
        Assert.All(finals, f => Assert.Equal(("final", true), (f.Status, f.PeriodClosed)));
        Assert.Equal(drafts.Select(d => d.Statement.ContentHash), finals.Select(f => f.Statement.ContentHash));
        Assert.Equal(4, finals.Select(f => f.StatementId).Distinct().Count());

        // acct-u: requests 50.00, fee 20.00, true-up 100 - 50 = 50.00: 120.00. acct-o: requests 150.00 + egress (30 - 10 GB) x 0.05
        // = 1.00, fee 20.00, no true-up: 171.00. acct-c: 10,000 x 0.005 = 50.00, fee 20.00, true-up 200 - 50 = 150.00: 220.00.
        // acct-n: fee 20.00 x 15/30 = 10.00 (service 16-30 Nov), true-up 100.00 (a commitment is not prorated): 110.00.
        Assert.Equal([220.00m, 110.00m, 171.00m, 120.00m], finals.Select(f => f.Statement.TotalIn("USD")));
        var n = finals[1].Statement;
        Assert.Equal((0.5m, 10.00m, new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero)), (n.Fees.Single().ProrationFactor, n.Fees.Single().Amount, n.Fees.Single().ServiceStart));
        Assert.Equal(("acct-c-contract", "c1"), (finals[0].Statement.Commitments.Single().PriceBook, finals[0].Statement.Commitments.Single().PriceBookVersion));

        // The inputs name the total rows and the price-book versions the lines came from.
        var o = finals[2];
        Assert.Equal([("egress", 30_000_000_000m, 30L), ("requests", 15_000m, 15_000L)], o.Inputs.Totals.Select(t => (t.Sku, t.Quantity, t.RecordCount)));
        Assert.Equal([("list", "v1", List.Versions[0].Hash)], o.Inputs.PriceBooks.Select(b => (b.Book, b.Version, b.Hash)));

        // Closing again writes nothing and changes nothing.
        var again = await Close(db, Nov);
        Assert.Equal((true, 0), (again.AlreadyClosed, again.StatementsWritten));
        Assert.Equal(finals.Select(f => f.StatementId), (await StatementQuery.ListAsync(db, Monthly.PeriodOf(Nov), Monthly, Prices, null, 100, CancellationToken.None)).Select(f => f.StatementId));
    }

    [Fact]
    public async Task A_final_statement_cannot_be_updated_or_deleted()
    {
        await using var db = await NovemberAsync();
        await Close(db, Nov);
        await using var update = db.CreateCommand("UPDATE statements SET canonical = canonical || 'x' WHERE account = 'acct-u'");
        var e = await Assert.ThrowsAsync<PostgresException>(() => update.ExecuteNonQueryAsync());
        Assert.Contains("immutable", e.MessageText, StringComparison.Ordinal);
        await using var delete = db.CreateCommand("DELETE FROM statements");
        await Assert.ThrowsAsync<PostgresException>(() => delete.ExecuteNonQueryAsync());
    }

    [Fact]
    public async Task Late_usage_is_booked_as_the_difference_of_its_whole_statement_and_is_billed_once_across_periods()
    {
        await using var db = await NovemberAsync();
        await Close(db, Nov);

        // December: acct-u uses 2,000 requests. Late November usage booked into December: acct-u 1,000 requests (under its
        // commitment: usage +10.00, true-up -10.00, nothing to pay), acct-o 500 requests (over it: +5.00).
        await TotalAsync(db, "acct-u", "requests", Dec, 2_000m, 2_000);
        var lateU = await LateAsync(db, "acct-u", "requests", Dec, Nov, 1_000m, 1_000);
        var lateO = await LateAsync(db, "acct-o", "requests", Dec, Nov, 500m, 500);

        var u = await Get(db, "acct-u", Dec);
        Assert.Equal([(AdjustmentLine.LateUsage, "requests", 1_000m, 10.00m), (AdjustmentLine.LateUsage, null, null, -10.00m)],
            u!.Statement.Adjustments.OrderBy(a => a.Sku is null).Select(a => (a.Kind, a.Sku, a.Quantity, a.Amount)));
        Assert.All(u.Statement.Adjustments, a => Assert.Equal(Monthly.PeriodOf(Nov).ToString(), a.Reference));
        Assert.Equal([lateU], u.Inputs.LateUsageIds);

        // acct-u December: 20.00 + fee 20.00 + true-up 80.00 (its own usage only) + adjustments 0.00 = 120.00.
        Assert.Equal((20.00m, 80.00m, 0.00m, 120.00m), (u.Statement.Totals[0].Usage, u.Statement.Totals[0].Commitments, u.Statement.Totals[0].Adjustments, u.Statement.TotalIn("USD")));

        // acct-o has no December usage: fee 20.00 + true-up 100.00 + the 5.00 of November = 125.00.
        var o = await Statement(db, "acct-o", Dec);
        Assert.Equal([("requests", 500m, 5.00m)], o.Adjustments.Select(a => (a.Sku!, a.Quantity!.Value, a.Amount)));
        Assert.Equal(125.00m, o.TotalIn("USD"));
        Assert.Equal([lateO], (await Get(db, "acct-o", Dec))!.Inputs.LateUsageIds);

        // The December close freezes those differences; 5,000 more late November requests of acct-u then go to January:
        // November rebuilt with 6,000 late requests is 110.00 usage, no true-up; as billed so far (1,000 late) 60.00 + 40.00.
        // January books usage +50.00 and true-up -40.00 = +10.00.
        await Close(db, Dec);
        Assert.True((await Get(db, "acct-u", Dec))!.Final);
        await LateAsync(db, "acct-u", "requests", Jan, Nov, 5_000m, 5_000);
        var jan = await Statement(db, "acct-u", Jan);
        Assert.Equal([("requests", 5_000m, 50.00m), (null, null, -40.00m)], jan.Adjustments.OrderBy(a => a.Sku is null).Select(a => (a.Sku, a.Quantity, a.Amount)));

        // November billed across its statement and the differences = November rated from scratch with all its usage:
        // 11,000 requests = 110.00 + fee 20.00, no true-up = 130.00 = 120.00 + 0.00 + 10.00.
        var fromScratch = StatementBuilder.Build(new StatementInput("acct-u", Monthly.PeriodOf(Nov), new StatementTerms(Nov), [new SkuUsage("requests", 11_000m, 11_000)], [], Prices));
        var billed = (await Statement(db, "acct-u", Nov)).TotalIn("USD") + (await Statement(db, "acct-u", Dec)).Adjustments.Sum(a => a.Amount) + jan.Adjustments.Sum(a => a.Amount);
        Assert.Equal((130.00m, 130.00m), (fromScratch.TotalIn("USD"), billed));
    }

    [Fact]
    public async Task An_account_with_nothing_in_the_period_has_no_statement()
    {
        await using var db = await NovemberAsync();
        Assert.Null(await Get(db, "acct-nobody", Nov));
        Assert.Null(await Get(db, "acct-u", Oct));
    }
}
