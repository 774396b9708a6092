using Metering.Ledger.Accounts;
using Metering.Ledger.Corrections;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.Statements;
using Metering.Rating.Accounts;
using Metering.Rating.Money;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;
using Metering.Tests.Storage;
using Npgsql;
using static Metering.Tests.Statements.StatementLedger;

namespace Metering.Tests.Statements;

/// <summary>
/// The billing engineer's walk-through of issue 14 against a real PostgreSQL, every amount computed by hand from
/// <see cref="StatementLedger"/>'s books (list: requests 0.01, egress 0.05/GB after 10 GB, fee platform 20.00 prorated,
/// commitment 100.00; acct-c's contract: requests 0.005, commitment 200.00): four accounts in November (under its
/// commitment, over it, on a contract, subscribed mid-month without usage), a void and an amend while November is open,
/// a manual credit, the close (final = draft), late November usage under and over the commitment, and a void of a
/// closed-period event, each booked into December as its whole-statement difference, and a re-rate of November under a
/// draft book, previewed and applied.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class BillingScenarioTests(PostgresFixture postgres)
{
    private static readonly BillingPeriodRule Monthly = BillingPeriodRule.CalendarMonth;
    private static readonly CorrectionHorizon Horizon = CorrectionHorizon.Default;

    private static async Task<Statement> StatementOf(NpgsqlDataSource db, string account, DateTimeOffset period) =>
        (await StatementQuery.GetAsync(db, Monthly.PeriodOf(period), Monthly, Prices, account, CancellationToken.None))!.Statement;

    private static async Task Correct(NpgsqlDataSource db, CorrectionRequest request, DateTimeOffset now)
    {
        var write = await CorrectionStore.WriteAsync(db, request, Monthly, now, Horizon, CancellationToken.None);
        Assert.True(write.Status == CorrectionWriteStatus.Created, $"{request.IdempotencyKey}: {write.Status} {write.Refusal}");
    }

    private static CorrectionRequest Void(string account, string key, string eventId, DateTimeOffset time, decimal quantity) =>
        new(account, CorrectionKind.Void, key, eventId, "requests", time, quantity, 0m, null, null, null, "duplicate sent by the edge", "ops@example.com");

    [Fact]
    public async Task Statements_of_three_accounts_through_corrections_close_and_late_usage_add_up_to_the_cent()
    {
        await using var db = await NewAsync(postgres);
        var novemberTenth = new DateTimeOffset(2026, 11, 10, 12, 0, 0, TimeSpan.Zero);
        var duringNovember = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);

        // November as the engine booked it. acct-o's 15,000 requests include an event of 5,000 and one of 2,000 sent in error.
        await TotalAsync(db, "acct-u", "requests", Nov, 5_000m, 5_000);
        await TotalAsync(db, "acct-o", "requests", Nov, 15_000m, 15_000);
        await TotalAsync(db, "acct-o", "egress", Nov, 30_000_000_000m, 30);
        await TotalAsync(db, "acct-c", "requests", Nov, 10_000m, 10_000);
        await AccountStore.SetAsync(db, new AccountTerms("acct-n", Currency.Get("USD"), "list", null, new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero), null, null, null),
            "ops@example.com", "signed on 16 November", CancellationToken.None);

        // While November is open: a void (acct-o, the 5,000), an amend (acct-c, an event of 2,000 was 4,000), a credit (acct-u).
        await Correct(db, Void("acct-o", "void-1", "evt-5000", novemberTenth, 5_000m), duringNovember);
        await Correct(db, new CorrectionRequest("acct-c", CorrectionKind.Amend, "amend-1", "evt-2000", "requests", novemberTenth, 2_000m, 4_000m, null, null, null,
            "meter under-reported", "ops@example.com"), duringNovember);
        await Correct(db, new CorrectionRequest("acct-u", CorrectionKind.Credit, "credit-1", null, null, null, null, null, -15.00m, "USD", null, "outage SLA credit", "ops@example.com"),
            duringNovember);

        // acct-u: requests 50.00 + fee 20.00 + true-up 50.00 - credit 15.00 (a credit does not count against the commitment) = 105.00.
        // acct-o: 10,000 requests 100.00 + egress 20 GB x 0.05 = 1.00 + fee 20.00, over its commitment = 121.00.
        // acct-c: 12,000 x 0.005 = 60.00 + fee 20.00 + true-up 200 - 60 = 140.00 = 220.00.
        // acct-n: fee 20.00 x 15/30 = 10.00 + true-up 100.00 (not prorated) = 110.00.
        var drafts = await StatementQuery.ListAsync(db, Monthly.PeriodOf(Nov), Monthly, Prices, null, 100, CancellationToken.None);
        Assert.Equal([("acct-c", 220.00m), ("acct-n", 110.00m), ("acct-o", 121.00m), ("acct-u", 105.00m)], drafts.Select(d => (d.Statement.Account, d.Statement.TotalIn("USD"))));
        Assert.Equal(10_000m, drafts[2].Statement.Usage.Single(u => u.Sku == "requests").RecordedQuantity);
        Assert.Equal(14_999L, drafts[2].Statement.Usage.Single(u => u.Sku == "requests").RecordCount);
        var credit = Assert.Single(drafts[3].Statement.Adjustments);
        Assert.Equal((AdjustmentLine.Manual, "correction:credit-1", -15.00m), (credit.Kind, credit.Reference, credit.Amount));
        Assert.Equal(3, drafts.Sum(d => d.Inputs.CorrectionIds.Count));

        // The close writes them final, unchanged.
        Assert.Equal(4, (await PeriodCloser.CloseAsync(db, Nov, CancellationToken.None, Monthly, now: Dec.AddMinutes(30), prices: Prices)).StatementsWritten);
        var finals = await StatementQuery.ListAsync(db, Monthly.PeriodOf(Nov), Monthly, Prices, null, 100, CancellationToken.None);
        Assert.All(finals, f => Assert.True(f.Final));
        Assert.Equal(drafts.Select(d => d.Statement.ContentHash), finals.Select(f => f.Statement.ContentHash));

        // December. Late November usage: acct-u 1,000 requests (under its commitment: +10.00 usage, -10.00 true-up),
        // acct-o 500 (over it: +5.00). A void of acct-o's closed-period event of 2,000: November with the late 500 is
        // 10,500 requests 105.00 + 1.00, no true-up; without the 2,000 it is 85.00 + 1.00 and a true-up of 14.00:
        // usage -20.00, true-up +14.00, -6.00 in all.
        await LateAsync(db, "acct-u", "requests", Dec, Nov, 1_000m, 1_000);
        await LateAsync(db, "acct-o", "requests", Dec, Nov, 500m, 500);
        await Correct(db, Void("acct-o", "void-2", "evt-2000b", novemberTenth, 2_000m), new DateTimeOffset(2026, 12, 5, 0, 0, 0, TimeSpan.Zero));

        var u = await StatementOf(db, "acct-u", Dec);
        Assert.Equal(0.00m, u.Adjustments.Sum(a => a.Amount));
        Assert.Equal(120.00m, u.TotalIn("USD")); // fee 20.00 + true-up 100.00 of December, nothing for the late usage

        var o = await StatementOf(db, "acct-o", Dec);
        Assert.Equal([(AdjustmentLine.Correction, "requests", -2_000m, -20.00m), (AdjustmentLine.Correction, null, null, 14.00m), (AdjustmentLine.LateUsage, "requests", 500m, 5.00m)],
            o.Adjustments.OrderBy(a => a.Kind, StringComparer.Ordinal).ThenBy(a => a.Sku is null).Select(a => (a.Kind, a.Sku, a.Quantity, a.Amount)));
        Assert.All(o.Adjustments, a => Assert.Equal(Monthly.PeriodOf(Nov).ToString(), a.Reference));
        Assert.Equal(119.00m, o.TotalIn("USD")); // 20.00 + 100.00 + 5.00 - 6.00

        // November billed across its final statement and December's lines = November rated from scratch with everything:
        // acct-o 8,500 requests 85.00 + 1.00 + fee 20.00 + true-up 14.00 = 120.00 = 121.00 + 5.00 - 6.00.
        var scratch = StatementBuilder.Build(new StatementInput("acct-o", Monthly.PeriodOf(Nov), new StatementTerms(Nov),
            [new SkuUsage("requests", 8_500m, 13_499), new SkuUsage("egress", 30_000_000_000m, 30)], [], Prices));
        Assert.Equal(120.00m, scratch.TotalIn("USD"));
        Assert.Equal(scratch.TotalIn("USD"), finals[2].Statement.TotalIn("USD") + o.Adjustments.Sum(a => a.Amount));

        // Re-rate November under a draft list book that doubles the request price (0.02): acct-o as billed (8,500 requests
        // 85.00 + 1.00, true-up 14.00) becomes 170.00 + 1.00 over the commitment: requests +85.00, true-up -14.00 = +71.00;
        // acct-u (6,000 requests 60.00, true-up 40.00) becomes 120.00: +60.00 and -40.00 = +20.00; acct-c's requests are
        // priced by its contract and acct-n has no usage: no change. The preview touches nothing; the apply books into December.
        var draftList = PriceBookLoader.Load(PriceBookLoader.Utf8(ListJson.Replace("\"unit_price\": \"0.01\"", "\"unit_price\": \"0.02\"", StringComparison.Ordinal)), "draft");
        var draft = new PriceCatalog(draftList, [PriceBookLoader.Load(PriceBookLoader.Utf8(ContractJson), "contract", draftList)]);
        var preview = await Rerater.PreviewAsync(db, Monthly.PeriodOf(Nov), Prices, draft, null, CancellationToken.None);
        Assert.Equal([("acct-o", 71.00m), ("acct-u", 20.00m)],
            preview.Accounts.Where(r => r.Lines.Count > 0).Select(r => (r.Account, r.Lines.Sum(l => l.Amount))));
        Assert.Equal(119.00m, (await StatementOf(db, "acct-o", Dec)).TotalIn("USD"));
        await Rerater.ApplyAsync(db, Monthly.PeriodOf(Nov), Monthly, Prices, draft, null, new RerateApplyRequest("price correction", "rerate-nov", "ops@example.com", false),
            CancellationToken.None);
        var rerated = await StatementOf(db, "acct-o", Dec);
        Assert.Equal([("requests", 85.00m), (null, -14.00m)],
            rerated.Adjustments.Where(a => a.Kind == AdjustmentLine.Rerate).OrderBy(a => a.Sku is null).Select(a => (a.Sku, a.Amount)));
        Assert.Equal((190.00m, 140.00m), (rerated.TotalIn("USD"), (await StatementOf(db, "acct-u", Dec)).TotalIn("USD")));

        // The closed period's final statements did not move.
        Assert.Equal(finals.Select(f => f.Statement.ContentHash),
            (await StatementQuery.ListAsync(db, Monthly.PeriodOf(Nov), Monthly, Prices, null, 100, CancellationToken.None)).Select(f => f.Statement.ContentHash));
    }
}
