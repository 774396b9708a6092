using Metering.Ledger.PeriodClose;
using Metering.Ledger.Statements;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;
using Metering.Tests.Storage;
using Npgsql;
using static Metering.Tests.Statements.StatementLedger;

namespace Metering.Tests.Statements;

/// <summary>
/// Re-rating a closed period (<see cref="Rerater"/>, docs/statements.md "Re-rating") against a real PostgreSQL: the
/// difference against the final statements with the late usage booked so far, the apply into the next open period, its
/// idempotency, and the agreement of draft, final and re-rate. Amounts are computed by hand from
/// <see cref="StatementLedger"/>'s books (requests 0.01, egress 0.05/GB after 10 GB, fee 20.00, commitment 100.00;
/// acct-c's contract: requests 0.005, commitment 200.00).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class RerateTests(PostgresFixture postgres)
{
    /// <summary>The list book with requests lowered to 0.008 (a new version id, same effective date): the draft.</summary>
    public const string DraftJson = """
        { "id": "list", "currency": "USD", "rounding": "half_up", "billing_period": { "type": "monthly", "anchor_day": 1 },
          "versions": [ { "version": "v1-draft", "effective_from": "2026-10-01T00:00:00Z",
            "prices": {
              "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.008" },
              "egress": { "model": "per_unit", "unit": "GB", "convert": { "divide_by": "1000000000", "round": "none" }, "included_units": "10", "unit_price": "0.05" } },
            "fees": [ { "id": "platform", "amount": "20.00", "prorate": true } ],
            "minimum_commitment": "100.00" } ] }
        """;

    /// <summary>The same prices as the draft, in euros.</summary>
    public const string EuroJson = """
        { "id": "list-eur", "currency": "EUR", "rounding": "half_up", "billing_period": { "type": "monthly", "anchor_day": 1 },
          "versions": [ { "version": "e1", "effective_from": "2026-10-01T00:00:00Z",
            "prices": {
              "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.008" },
              "egress": { "model": "per_unit", "unit": "GB", "convert": { "divide_by": "1000000000", "round": "none" }, "included_units": "10", "unit_price": "0.05" } },
            "fees": [ { "id": "platform", "amount": "20.00", "prorate": true } ],
            "minimum_commitment": "100.00" } ] }
        """;

    private static readonly BillingPeriodRule Monthly = BillingPeriodRule.CalendarMonth;

    private static readonly BillingPeriod November = Monthly.PeriodOf(Nov);

    /// <summary>The draft with acct-c's contract unchanged (its parent is the draft list book).</summary>
    public static PriceCatalog Draft { get; } = DraftCatalog();

    private static PriceCatalog DraftCatalog()
    {
        var list = PriceBookLoader.Load(PriceBookLoader.Utf8(DraftJson), "draft");
        return new PriceCatalog(list, [PriceBookLoader.Load(PriceBookLoader.Utf8(ContractJson), "contract", list)]);
    }

    private static Task<PeriodCloseResult> Close(NpgsqlDataSource db, DateTimeOffset start) =>
        PeriodCloser.CloseAsync(db, start, CancellationToken.None, Monthly, now: start.AddMonths(1).AddMinutes(30), prices: Prices);

    private static Task<RerateResult> Preview(NpgsqlDataSource db, PriceCatalog draft, string? account = null, BillingPeriod? period = null) =>
        Rerater.PreviewAsync(db, period ?? November, Prices, draft, account, CancellationToken.None);

    private static Task<RerateResult> Apply(NpgsqlDataSource db, string? key, bool force = false) =>
        Rerater.ApplyAsync(db, November, Monthly, Prices, Draft, null, new RerateApplyRequest("requests repriced to 0.008", key, "test", force), CancellationToken.None);

    private static RerateAccountResult Of(RerateResult r, string account) => r.Accounts.Single(a => a.Account == account);

    private static (string? Sku, decimal? Quantity, decimal Amount, string Currency)[] Lines(IEnumerable<AdjustmentLine> lines) =>
        [.. lines.Select(l => (l.Sku, l.Quantity, l.Amount, l.Currency)).OrderBy(l => l.Currency, StringComparer.Ordinal).ThenBy(l => l.Sku ?? "~", StringComparer.Ordinal).ThenBy(l => l.Amount)];

    /// <summary>November closed: acct-u under its commitment, acct-o over it, acct-c on its contract, acct-n subscribed from 16 November.</summary>
    internal static async Task<NpgsqlDataSource> ClosedNovemberAsync(NpgsqlDataSource db)
    {
        await TotalAsync(db, "acct-u", "requests", Nov, 5_000m, 5_000);
        await TotalAsync(db, "acct-o", "requests", Nov, 15_000m, 15_000);
        await TotalAsync(db, "acct-o", "egress", Nov, 30_000_000_000m, 30);
        await TotalAsync(db, "acct-c", "requests", Nov, 10_000m, 10_000);
        await Metering.Ledger.Accounts.AccountStore.SetAsync(db, new Metering.Rating.Accounts.AccountTerms("acct-n", Metering.Rating.Money.Currency.Get("USD"), "list", null,
            new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero), null, null, null), "test", "mid-month start", CancellationToken.None);
        await Close(db, Nov);
        return db;
    }

    private async Task<NpgsqlDataSource> NewClosedNovemberAsync() => await ClosedNovemberAsync(await NewAsync(postgres));

    private static async Task<Dictionary<string, long>> RowCounts(NpgsqlDataSource db)
    {
        var tables = new List<string>();
        await using (var cmd = db.CreateCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1"))
        await using (var r = await cmd.ExecuteReaderAsync())
        {
            while (await r.ReadAsync())
            {
                tables.Add(r.GetString(0));
            }
        }

        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var t in tables)
        {
            await using var cmd = db.CreateCommand($"SELECT count(*) FROM \"{t}\"");
            counts[t] = (long)(await cmd.ExecuteScalarAsync())!;
        }

        return counts;
    }

    [Fact]
    public async Task Lower_request_price_changes_exactly_the_request_line_over_the_commitment_and_nets_to_zero_under_it()
    {
        await using var db = await NewClosedNovemberAsync();
        var r = await Preview(db, Draft);

        Assert.Equal(4, r.AccountsCompared);
        Assert.All(r.Accounts, a => Assert.True(a.BaselineMatchesFinal));

        // acct-o: 15,000 x 0.01 = 150.00 -> 15,000 x 0.008 = 120.00: -30.00, quantity unchanged; egress 1.00 both sides;
        // usage 121.00 stays above the 100.00 commitment, so no true-up line.
        var o = Of(r, "acct-o");
        Assert.Equal([("requests", 0m, -30.00m, "USD")], Lines(o.Lines));
        Assert.Equal(November.ToString(), o.Lines.Single().Reference);
        Assert.Equal(AdjustmentLine.Rerate, o.Lines.Single().Kind);

        // acct-u: 5,000 x 0.01 = 50.00 -> 40.00 (-10.00); the true-up 100 - 50 = 50.00 -> 100 - 40 = 60.00 (+10.00): nets to 0.
        var u = Of(r, "acct-u");
        Assert.Equal([("requests", 0m, -10.00m, "USD"), (null, null, 10.00m, "USD")], Lines(u.Lines));
        Assert.Equal(0m, u.Lines.Sum(l => l.Amount));
        var described = u.Lines.Select(l => Rerating.Describe(l, u.Baseline!, u.Recomputed!)).OrderBy(d => d.Subject, StringComparer.Ordinal).ToList();
        Assert.Equal([("commitment_true_up", 50.00m, 60.00m), ("usage requests", 50.00m, 40.00m)], described.Select(d => (d.Subject, d.Before!.Value, d.After!.Value)));

        // acct-c is priced by its contract (unchanged), acct-n has only the fee and the true-up (unchanged): no lines.
        Assert.Empty(Of(r, "acct-c").Lines);
        Assert.Empty(Of(r, "acct-n").Lines);

        // The recomputed totals are the final totals plus the lines: acct-o 171.00 - 30.00 = 141.00.
        Assert.Equal(141.00m, o.Recomputed!.TotalIn("USD"));
        Assert.Equal(171.00m, o.Baseline!.TotalIn("USD"));
    }

    [Fact]
    public async Task A_currency_change_takes_every_line_back_and_charges_it_again_in_the_new_currency()
    {
        await using var db = await NewClosedNovemberAsync();
        var euro = new PriceCatalog(PriceBookLoader.Load(PriceBookLoader.Utf8(EuroJson), "euro"), []);
        var o = Of(await Preview(db, euro, "acct-o"), "acct-o");

        // Taken back in USD: requests 150.00, egress 1.00, fee 20.00 (= the 171.00 billed). Charged in EUR: requests
        // 15,000 x 0.008 = 120.00, egress (30 - 10) x 0.05 = 1.00, fee 20.00; usage 121.00 is over the 100.00 commitment.
        Assert.Equal([
            ("egress", 30_000_000_000m, 1.00m, "EUR"), ("requests", 15_000m, 120.00m, "EUR"), (null, null, 20.00m, "EUR"),
            ("egress", -30_000_000_000m, -1.00m, "USD"), ("requests", -15_000m, -150.00m, "USD"), (null, null, -20.00m, "USD"),
        ], Lines(o.Lines));
        Assert.Equal((-171.00m, 141.00m), (o.Lines.Where(l => l.Currency == "USD").Sum(l => l.Amount), o.Lines.Where(l => l.Currency == "EUR").Sum(l => l.Amount)));
        Assert.Equal(["EUR"], o.Recomputed!.Totals.Select(t => t.Currency));
    }

    [Fact]
    public async Task The_baseline_includes_the_late_usage_of_the_period_booked_so_far()
    {
        await using var db = await NewClosedNovemberAsync();

        // 500 late November requests of acct-o booked into December: as billed 15,500 x 0.01 = 155.00, under the draft
        // 15,500 x 0.008 = 124.00: -31.00 (not the -30.00 of the final statement alone).
        await LateAsync(db, "acct-o", "requests", Dec, Nov, 500m, 500);
        var o = Of(await Preview(db, Draft, "acct-o"), "acct-o");
        Assert.Equal([("requests", 0m, -31.00m, "USD")], Lines(o.Lines));
        Assert.True(o.BaselineMatchesFinal);
        Assert.Equal(15_500m, o.Baseline!.Usage.Single(u => u.Sku == "requests").RecordedQuantity);
    }

    [Fact]
    public async Task A_preview_writes_nothing_to_any_table()
    {
        await using var db = await NewClosedNovemberAsync();
        await LateAsync(db, "acct-o", "requests", Dec, Nov, 500m, 500);
        var before = await RowCounts(db);
        var r = await Preview(db, Draft);
        Assert.Null(r.Application);
        Assert.NotEmpty(r.Accounts.SelectMany(a => a.Lines));
        Assert.Equal(before, await RowCounts(db));
        Assert.Contains("booked_adjustments", before.Keys);
        Assert.Contains("rerate_batches", before.Keys);
    }

    [Fact]
    public async Task An_open_period_is_refused()
    {
        await using var db = await NewClosedNovemberAsync();
        var e = await Assert.ThrowsAsync<RerateException>(() => Preview(db, Draft, period: Monthly.PeriodOf(Dec)));
        Assert.Equal(RerateRefusal.OpenPeriod, e.Refusal);
        var apply = await Assert.ThrowsAsync<RerateException>(() => Rerater.ApplyAsync(db, Monthly.PeriodOf(Dec), Monthly, Prices, Draft, null,
            new RerateApplyRequest("r", "k", "test", false), CancellationToken.None));
        Assert.Equal(RerateRefusal.OpenPeriod, apply.Refusal);
        await using var count = db.CreateCommand("SELECT (SELECT count(*) FROM rerate_batches) + (SELECT count(*) FROM booked_adjustments)");
        Assert.Equal(0L, (long)(await count.ExecuteScalarAsync())!);
        var none = await Assert.ThrowsAsync<RerateException>(() => Preview(db, Draft, "acct-nobody"));
        Assert.Equal(RerateRefusal.NoFinalStatement, none.Refusal);
    }

    [Fact]
    public async Task Apply_books_the_lines_into_the_next_open_period_and_its_draft_shows_them()
    {
        await using var db = await NewClosedNovemberAsync();
        var applied = await Apply(db, "nov-rerate-1");
        Assert.Equal(("nov-rerate-1", false, Monthly.PeriodOf(Dec), 3), (applied.Application!.Batch, applied.Application.Replay, applied.Application.BookedInto, applied.Application.LinesBooked));

        // acct-o in December (no usage of its own): fee 20.00 + true-up 100.00 + the re-rate -30.00 = 90.00.
        var o = (await StatementQuery.GetAsync(db, Monthly.PeriodOf(Dec), Monthly, Prices, "acct-o", CancellationToken.None))!;
        Assert.Equal([("requests", 0m, -30.00m, "USD")], Lines(o.Statement.Adjustments));
        Assert.Equal((AdjustmentLine.Rerate, November.ToString()), (o.Statement.Adjustments.Single().Kind, o.Statement.Adjustments.Single().Reference));
        Assert.Equal(90.00m, o.Statement.TotalIn("USD"));

        // acct-u: -10.00 and +10.00, 0.00 in all: fee 20.00 + true-up 100.00 = 120.00 (the lines never count against December's commitment).
        var u = (await StatementQuery.GetAsync(db, Monthly.PeriodOf(Dec), Monthly, Prices, "acct-u", CancellationToken.None))!;
        Assert.Equal([("requests", 0m, -10.00m, "USD"), (null, null, 10.00m, "USD")], Lines(u.Statement.Adjustments));
        Assert.Equal(120.00m, u.Statement.TotalIn("USD"));
        Assert.Equal(2, u.Inputs.BookedAdjustmentIds.Count);

        // Once December closes, the lines are on its final statement; a new apply then books into January.
        await Close(db, Dec);
        Assert.Equal(90.00m, (await StatementQuery.GetAsync(db, Monthly.PeriodOf(Dec), Monthly, Prices, "acct-o", CancellationToken.None))!.Statement.TotalIn("USD"));
    }

    [Fact]
    public async Task The_same_key_again_is_a_replay_that_writes_nothing_and_returns_the_stored_batch()
    {
        await using var db = await NewClosedNovemberAsync();
        var first = await Apply(db, "k-1");
        var counts = await RowCounts(db);
        var again = await Apply(db, "k-1");
        Assert.Equal(counts, await RowCounts(db));
        Assert.True(again.Application!.Replay);
        Assert.Equal((first.Application!.Batch, 3, first.Application.CreatedAt), (again.Application.Batch, again.Application.LinesBooked, again.Application.CreatedAt));
        Assert.Equal(4, again.AccountsCompared);
        Assert.Equal(Lines(first.Accounts.SelectMany(a => a.ToBook)), Lines(again.Accounts.SelectMany(a => a.ToBook)));

        // The key used for another request (only acct-o) is refused, and writes nothing.
        var reused = await Assert.ThrowsAsync<RerateException>(() => Rerater.ApplyAsync(db, November, Monthly, Prices, Draft, "acct-o",
            new RerateApplyRequest("again", "k-1", "test", false), CancellationToken.None));
        Assert.Equal(RerateRefusal.KeyReused, reused.Refusal);
        Assert.Equal(counts, await RowCounts(db));
    }

    [Fact]
    public async Task A_second_apply_is_refused_unless_forced_and_then_books_only_the_change_against_the_first()
    {
        await using var db = await NewClosedNovemberAsync();
        await Apply(db, null);
        var refused = await Assert.ThrowsAsync<RerateException>(() => Apply(db, "second"));
        Assert.Equal(RerateRefusal.AlreadyRerated, refused.Refusal);
        Assert.Contains("'acct-o', 'acct-u'", refused.Message, StringComparison.Ordinal);

        // Forced under the same draft: the new difference equals the booked one, nothing more to book.
        var same = await Apply(db, "second", force: true);
        Assert.Equal(0, same.Application!.LinesBooked);

        // Forced back under the billing books: the difference against the final statement is empty, so the earlier lines
        // are taken back: acct-o +30.00, acct-u +10.00 and -10.00; the period as billed plus every booked line = the final.
        var back = await Rerater.ApplyAsync(db, November, Monthly, Prices, Prices, null, new RerateApplyRequest("undo", "third", "test", true), CancellationToken.None);
        Assert.Equal([("requests", 0m, 30.00m, "USD")], Lines(Of(back, "acct-o").ToBook));
        Assert.Equal([("requests", 0m, 10.00m, "USD"), (null, null, -10.00m, "USD")], Lines(Of(back, "acct-u").ToBook));
        await using var sum = db.CreateCommand("SELECT account, sum(amount) FROM booked_adjustments GROUP BY account ORDER BY account");
        await using var r = await sum.ExecuteReaderAsync();
        var sums = new List<(string, decimal)>();
        while (await r.ReadAsync())
        {
            sums.Add((r.GetString(0), r.GetDecimal(1)));
        }

        Assert.Equal([("acct-o", 0m), ("acct-u", 0m)], sums);
    }

    [Fact]
    public async Task Concurrent_applies_book_once_whatever_their_keys()
    {
        await using var db = await NewClosedNovemberAsync();

        // Two keys at once: the apply lock serializes them, so the second sees the first's lines and is refused.
        var different = await Task.WhenAll(Try(db, "c-1"), Try(db, "c-2"));
        Assert.Equal([false, true], different.Select(r => r.Refused).Order());
        Assert.Equal(RerateRefusal.AlreadyRerated, different.Single(r => r.Refused).Refusal);

        // One new key sent twice at once: one apply and one replay of it, never two batches.
        await using var db2 = await NewClosedNovemberAsync();
        var same = await Task.WhenAll(Apply(db2, "s-1"), Apply(db2, "s-1"));
        Assert.Equal([false, true], same.Select(r => r.Application!.Replay).Order());
        foreach (var (source, rows) in new[] { (db, 3L), (db2, 3L) })
        {
            await using var count = source.CreateCommand("SELECT count(*) FROM booked_adjustments");
            Assert.Equal(rows, (long)(await count.ExecuteScalarAsync())!);
        }

        static async Task<(bool Refused, RerateRefusal? Refusal)> Try(NpgsqlDataSource db, string key)
        {
            try
            {
                await Apply(db, key);
                return (false, null);
            }
            catch (RerateException e)
            {
                return (true, e.Refusal);
            }
        }
    }

    [Fact]
    public async Task Billing_books_that_do_not_reproduce_the_final_statement_are_flagged_and_refuse_an_apply()
    {
        await using var db = await NewClosedNovemberAsync();

        // Billed with the list book; "billing" books claimed to be the draft do not reproduce acct-o's 150.00 requests line.
        var r = await Rerater.PreviewAsync(db, November, Draft, Prices, "acct-o", CancellationToken.None);
        Assert.False(Of(r, "acct-o").BaselineMatchesFinal);
        var e = await Assert.ThrowsAsync<RerateException>(() => Rerater.ApplyAsync(db, November, Monthly, Draft, Prices, "acct-o",
            new RerateApplyRequest("r", null, "test", false), CancellationToken.None));
        Assert.Equal(RerateRefusal.BillingBooksMismatch, e.Refusal);
    }

    [Fact]
    public async Task Draft_before_close_final_at_close_and_a_rerate_under_the_same_books_agree()
    {
        await using var db = await NewAsync(postgres);
        await TotalAsync(db, "acct-u", "requests", Nov, 5_000m, 5_000);
        await TotalAsync(db, "acct-o", "requests", Nov, 15_000m, 15_000);
        await TotalAsync(db, "acct-o", "egress", Nov, 30_000_000_000m, 30);
        await TotalAsync(db, "acct-c", "requests", Nov, 10_000m, 10_000);
        var drafts = await StatementQuery.ListAsync(db, November, Monthly, Prices, null, 100, CancellationToken.None);
        await Close(db, Nov);
        var finals = await StatementQuery.ListAsync(db, November, Monthly, Prices, null, 100, CancellationToken.None);
        var rerate = await Preview(db, Prices);

        // One rating path: the draft's hash = the final's = the re-rate baseline's = its recomputed statement's, and no line.
        Assert.Equal(drafts.Select(d => d.Statement.ContentHash), finals.Select(f => f.Statement.ContentHash));
        Assert.Equal(finals.Select(f => f.Statement.ContentHash), rerate.Accounts.Select(a => a.Baseline!.ContentHash));
        Assert.Equal(finals.Select(f => f.Statement.ContentHash), rerate.Accounts.Select(a => a.Recomputed!.ContentHash));
        Assert.All(rerate.Accounts, a => Assert.Empty(a.Lines));

        // December carries late November usage (adjustment lines on its final statement) and usage of its own: its
        // re-rate under the same books is empty too, and so is November's with the late usage in its baseline.
        await TotalAsync(db, "acct-u", "requests", Dec, 2_000m, 2_000);
        await LateAsync(db, "acct-o", "requests", Dec, Nov, 500m, 500);
        var decDraft = (await StatementQuery.GetAsync(db, Monthly.PeriodOf(Dec), Monthly, Prices, "acct-o", CancellationToken.None))!.Statement;
        Assert.NotEmpty(decDraft.Adjustments);
        await Close(db, Dec);
        var decFinal = (await StatementQuery.GetAsync(db, Monthly.PeriodOf(Dec), Monthly, Prices, "acct-o", CancellationToken.None))!;
        Assert.Equal((true, decDraft.ContentHash), (decFinal.Final, decFinal.Statement.ContentHash));
        var dec = await Preview(db, Prices, period: Monthly.PeriodOf(Dec));
        Assert.All(dec.Accounts, a => Assert.Equal((true, 0), (a.BaselineMatchesFinal, a.Lines.Count)));
        Assert.All((await Preview(db, Prices)).Accounts, a => Assert.Empty(a.Lines));
    }
}
