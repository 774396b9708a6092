using System.Text;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Streaming;
using Metering.Ledger.Accounts;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.Statements;
using Metering.Rating.Accounts;
using Metering.Rating.Money;
using Metering.Tests.Statements;
using Metering.Tests.Storage;
using Metering.Tests.Streaming;
using Npgsql;

namespace Metering.Tests.Accounts;

/// <summary>
/// Accounts with a billing-period rule of their own (anchor day, IANA time zone): the engine books their usage into
/// their periods, a close closes their own period of it, their statements and late usage follow their boundaries, and
/// the rule cannot change once usage is booked under it. Real engine over the Kafka mock cluster, real PostgreSQL.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class AccountPeriodTests(PostgresFixture postgres) : IDisposable
{
    private static readonly DateTimeOffset Oct15 = new(2026, 10, 15, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Nov15 = new(2026, 11, 15, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Dec15 = new(2026, 12, 15, 0, 0, 0, TimeSpan.Zero);

    // Local midnight in Europe/Berlin (CET, UTC+1, in November and December).
    private static readonly DateTimeOffset BerlinNov = new(2026, 10, 31, 23, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset BerlinDec = new(2026, 11, 30, 23, 0, 0, TimeSpan.Zero);

    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);
    private int _nextId;

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task Usage_books_into_each_accounts_own_periods_and_a_close_closes_the_period_each_account_starts_in_the_month()
    {
        var (db, options) = await SetUpAsync("account-periods");
        await AccountsAsync(db);
        await ProduceAndDrainAsync(db, options, Records(
            ("acct-15", "2026-11-14T23:00:00Z", 100), ("acct-15", "2026-11-15T00:00:00Z", 7),
            ("acct-berlin", "2026-10-31T23:30:00Z", 40), ("acct-berlin", "2026-11-30T23:30:00Z", 3),
            ("acct-list", "2026-11-30T23:30:00Z", 5)), 5);

        await using (var dl = db.CreateCommand("SELECT string_agg(reason || ': ' || detail, ' | ') FROM dead_letters"))
        {
            Assert.Null(await dl.ExecuteScalarAsync() as string);
        }

        // Each record is in its account's period: the 15th, Berlin's local months, the list book's calendar month.
        Assert.Equal(
            [("acct-15", Oct15, 100m), ("acct-15", Nov15, 7m), ("acct-berlin", BerlinNov, 40m), ("acct-berlin", BerlinDec, 3m), ("acct-list", StatementLedger.Nov, 5m)],
            await TotalsAsync(db));

        // Closing November before December 15: Berlin's local November and the list accounts close; the 15th's period
        // [Nov 15, Dec 15) has not ended and stays open.
        var early = await PeriodCloser.CloseAsync(db, StatementLedger.Nov, CancellationToken.None, StatementLedger.List.Periods, now: new DateTimeOffset(2026, 12, 5, 0, 0, 0, TimeSpan.Zero),
            prices: StatementLedger.Prices);
        var groups = early.Groups!.ToDictionary(g => (g.Group.AnchorDay, g.Group.TimeZone));
        Assert.Equal((new Rating.Periods.BillingPeriod(Nov15, Dec15), false), (groups[(15, null)].Period, groups[(15, null)].Closed));
        Assert.Equal((new Rating.Periods.BillingPeriod(BerlinNov, BerlinDec), true, 1), (groups[(null, "Europe/Berlin")].Period, groups[(null, "Europe/Berlin")].Closed, groups[(null, "Europe/Berlin")].StatementsWritten));
        Assert.Equal(2, early.StatementsWritten); // acct-list and acct-berlin

        // Closing it again after December 15 closes the 15th's period too, and writes only its statement.
        var late = await PeriodCloser.CloseAsync(db, StatementLedger.Nov, CancellationToken.None, StatementLedger.List.Periods, now: new DateTimeOffset(2026, 12, 16, 0, 0, 0, TimeSpan.Zero),
            prices: StatementLedger.Prices);
        Assert.Equal(1, late.StatementsWritten);
        Assert.DoesNotContain(late.Groups!, g => !g.Closed);

        // The period's statements: every account on its own period, final.
        var statements = await StatementQuery.ListAsync(db, StatementLedger.List.Periods.PeriodOf(StatementLedger.Nov), StatementLedger.List.Periods, StatementLedger.Prices, null, 100, CancellationToken.None);
        Assert.Equal(
            [("acct-15", Nov15, Dec15, true), ("acct-berlin", BerlinNov, BerlinDec, true), ("acct-list", StatementLedger.Nov, StatementLedger.Dec, true)],
            statements.Select(s => (s.Statement.Account, s.Statement.Period.Start, s.Statement.Period.End, s.Final)).ToList());
        var fifteenth = statements[0].Statement;
        Assert.Equal(0.07m, fifteenth.Usage.Single(u => u.Sku == "requests").Amount); // 7 requests at 0.01, its own period only

        // The 15th's earlier period [Oct 15, Nov 15) is the one an October close closes; it is still open, so a
        // draft with the 100 requests of Nov 14.
        var october = await StatementQuery.ListAsync(db, StatementLedger.List.Periods.PeriodOf(StatementLedger.Oct), StatementLedger.List.Periods, StatementLedger.Prices, null, 100, CancellationToken.None);
        var oct15 = Assert.Single(october, s => s.Statement.Account == "acct-15");
        Assert.Equal((Oct15, Nov15, false, 1.00m), (oct15.Statement.Period.Start, oct15.Statement.Period.End, oct15.Final, oct15.Statement.Usage.Single(u => u.Sku == "requests").Amount));
    }

    [Fact]
    public async Task Late_usage_of_an_accounts_closed_period_is_booked_into_its_own_next_open_period()
    {
        var (db, options) = await SetUpAsync("account-periods-late");
        await AccountsAsync(db);
        await ProduceAndDrainAsync(db, options, Records(("acct-berlin", "2026-11-10T12:00:00Z", 40)), 1);
        await PeriodCloser.CloseAsync(db, StatementLedger.Nov, CancellationToken.None, StatementLedger.List.Periods, now: new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero),
            prices: StatementLedger.Prices);

        // Late usage for Berlin's closed local November: booked into its December period (starting Nov 30 23:00 UTC).
        await ProduceAndDrainAsync(db, options, Records(("acct-berlin", "2026-11-20T12:00:00Z", 9)), 2);
        await using var cmd = db.CreateCommand("SELECT period_start, original_period_start, quantity FROM adjustments WHERE account = 'acct-berlin'");
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.Equal((BerlinDec, BerlinNov, 9m), (r.GetFieldValue<DateTimeOffset>(0), r.GetFieldValue<DateTimeOffset>(1), r.GetDecimal(2)));
        Assert.False(await r.ReadAsync());
        Assert.Equal([("acct-berlin", BerlinNov, 40m)], await TotalsAsync(db));
    }

    [Fact]
    public async Task An_accounts_anchor_day_and_time_zone_cannot_change_once_usage_is_booked_under_them_but_its_other_terms_can()
    {
        var (db, options) = await SetUpAsync("account-periods-fixed");
        await AccountsAsync(db);

        // Before any usage the rule may change.
        Assert.Equal(AccountWriteStatus.Updated, (await AccountStore.SetAsync(db, Terms("acct-15", Oct15, anchorDay: 16), "test", null, CancellationToken.None)).Status);
        Assert.Equal(AccountWriteStatus.Updated, (await AccountStore.SetAsync(db, Terms("acct-15", Oct15, anchorDay: 15), "test", null, CancellationToken.None)).Status);

        await ProduceAndDrainAsync(db, options, Records(("acct-15", "2026-11-20T00:00:00Z", 1)), 1);
        var refused = await Assert.ThrowsAsync<PeriodRuleInUseException>(() => AccountStore.SetAsync(db, Terms("acct-15", Oct15, anchorDay: 1), "test", null, CancellationToken.None));
        Assert.Contains("anchor_day and time_zone cannot change", refused.Message, StringComparison.Ordinal);
        Assert.Equal(15, (await AccountStore.GetAsync(db, "acct-15", CancellationToken.None))!.Terms.AnchorDay);

        // Setting the same terms again is still a no-op.
        Assert.Equal(AccountWriteStatus.Unchanged, (await AccountStore.SetAsync(db, Terms("acct-15", Oct15, anchorDay: 15), "test", null, CancellationToken.None)).Status);

        // An account without a row gets one from its first usage (--unknown-account auto: on the list book, no rule of
        // its own) and cannot get a rule of its own after it either. (Usage without a row at all, no list book or a
        // ledger from before auto-create, is covered in UnknownAccountPolicyTests.)
        await ProduceAndDrainAsync(db, options, Records(("acct-implicit", "2026-11-20T00:00:00Z", 1)), 2);
        Assert.Null((await AccountStore.GetAsync(db, "acct-implicit", CancellationToken.None))!.Terms.TimeZone);
        await Assert.ThrowsAsync<PeriodRuleInUseException>(() => AccountStore.SetAsync(db, Terms("acct-implicit", Oct15, timeZone: "Asia/Tokyo"), "test", null, CancellationToken.None));
        Assert.Null((await AccountStore.GetAsync(db, "acct-implicit", CancellationToken.None))!.Terms.TimeZone);
        Assert.Equal(AccountWriteStatus.Updated, (await AccountStore.SetAsync(db, Terms("acct-implicit", Oct15), "test", null, CancellationToken.None)).Status);

        // The end of the subscription is not a period rule: it can change.
        Assert.Equal(AccountWriteStatus.Updated,
            (await AccountStore.SetAsync(db, Terms("acct-15", Oct15, anchorDay: 15, end: new DateTimeOffset(2027, 1, 15, 0, 0, 0, TimeSpan.Zero)), "test", null, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task Re_rating_november_re_rates_each_accounts_own_closed_period_and_books_into_its_own_next_open_period()
    {
        var (db, options) = await SetUpAsync("account-periods-rerate");
        await AccountsAsync(db);
        await ProduceAndDrainAsync(db, options, Records(("acct-berlin", "2026-11-10T12:00:00Z", 10_000), ("acct-list", "2026-11-10T12:00:00Z", 20_000)), 2);
        await PeriodCloser.CloseAsync(db, StatementLedger.Nov, CancellationToken.None, StatementLedger.List.Periods, now: new DateTimeOffset(2026, 12, 2, 0, 0, 0, TimeSpan.Zero),
            prices: StatementLedger.Prices);

        // Requests at 0.02 instead of 0.01: +100.00 for Berlin's 10,000 and +200.00 for the list account's 20,000,
        // both over their 100.00 commitment (usage 100.00 and 200.00), so the whole usage difference is billed.
        var draft = new Rating.PriceBooks.PriceCatalog(Rating.PriceBooks.PriceBookLoader.Load(
            Rating.PriceBooks.PriceBookLoader.Utf8(StatementLedger.ListJson.Replace("\"unit_price\": \"0.01\"", "\"unit_price\": \"0.02\"", StringComparison.Ordinal)), "draft"), []);
        var november = StatementLedger.List.Periods.PeriodOf(StatementLedger.Nov);
        var applied = await Rerater.ApplyAsync(db, november, StatementLedger.List.Periods, StatementLedger.Prices, draft, null,
            new RerateApplyRequest("requests repriced", "rr-groups", "test", false), CancellationToken.None);
        Assert.Equal(["acct-berlin", "acct-list"], applied.Accounts.Select(a => a.Account).ToList());
        Assert.Equal([100.00m, 200.00m], applied.Accounts.Select(a => a.ToBook.Sum(l => l.Amount)).ToList());

        await using var cmd = db.CreateCommand("SELECT account, booked_period_start, original_period_start, sum(amount) FROM booked_adjustments GROUP BY 1, 2, 3 ORDER BY 1");
        await using var r = await cmd.ExecuteReaderAsync();
        var booked = new List<(string, DateTimeOffset, DateTimeOffset, decimal)>();
        while (await r.ReadAsync())
        {
            booked.Add((r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), r.GetFieldValue<DateTimeOffset>(2), r.GetDecimal(3)));
        }

        Assert.Equal([("acct-berlin", BerlinDec, BerlinNov, 100.00m), ("acct-list", StatementLedger.Dec, StatementLedger.Nov, 200.00m)], booked);
    }

    [Fact]
    public async Task A_credit_naming_a_date_books_into_the_accounts_period_starting_that_day_on_its_own_clock()
    {
        var db = await StatementLedger.NewAsync(postgres);
        await AccountsAsync(db);
        var now = new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero);
        Metering.Ledger.Corrections.CorrectionRequest Credit(string key, DateTimeOffset period) =>
            new("acct-berlin", Metering.Ledger.Corrections.CorrectionKind.Credit, key, null, null, null, null, null, -5m, "USD", period, "goodwill", "test");

        // 2026-11-01 names Berlin's local November, which starts 2026-10-31T23:00Z.
        var write = await Metering.Ledger.Corrections.CorrectionStore.WriteAsync(db, Credit("c1", StatementLedger.Nov), StatementLedger.List.Periods, now,
            Metering.Ledger.Corrections.CorrectionHorizon.Default, CancellationToken.None);
        Assert.Null(write.Refusal);
        Assert.Equal(BerlinNov, write.Correction!.BookedPeriodStart);

        // A day none of its periods starts on is refused.
        var refused = await Metering.Ledger.Corrections.CorrectionStore.WriteAsync(db, Credit("c2", new DateTimeOffset(2026, 11, 3, 0, 0, 0, TimeSpan.Zero)), StatementLedger.List.Periods, now,
            Metering.Ledger.Corrections.CorrectionHorizon.Default, CancellationToken.None);
        Assert.NotNull(refused.Refusal);
    }

    private static AccountTerms Terms(string account, DateTimeOffset start, int? anchorDay = null, string? timeZone = null, DateTimeOffset? end = null) =>
        new(account, Currency.Get("USD"), "list", null, start, end, anchorDay, timeZone);

    private static async Task AccountsAsync(NpgsqlDataSource db)
    {
        await AccountStore.SetAsync(db, Terms("acct-15", Oct15, anchorDay: 15), "test", null, CancellationToken.None);
        await AccountStore.SetAsync(db, Terms("acct-berlin", StatementLedger.Oct, timeZone: "Europe/Berlin"), "test", null, CancellationToken.None);
        await AccountStore.SetAsync(db, Terms("acct-list", StatementLedger.Oct), "test", null, CancellationToken.None);
    }

    private byte[] Records(params (string Account, string Time, long Requests)[] records)
    {
        var text = new StringBuilder();
        foreach (var (account, time, requests) in records)
        {
            text.Append("{\"id\":\"ap-").Append(++_nextId).Append("\",\"account\":\"").Append(account).Append("\",\"sku\":\"requests\",\"quantity\":\"")
                .Append(requests).Append("\",\"time\":\"").Append(time).Append("\"}\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private async Task ProduceAndDrainAsync(NpgsqlDataSource db, StreamingOptions options, byte[] records, long expectedRead)
    {
        await WorkloadProducer.ProduceAsync(_kafka.BootstrapServers, options.Topic, new MemoryStream(records), null, CancellationToken.None);
        await EngineRuns.RunUntilCommittedAsync(new StreamingEngine(options, db, StatementLedger.Prices), db, options, expectedRead, timeoutSeconds: 60);
    }

    private static async Task<List<(string, DateTimeOffset, decimal)>> TotalsAsync(NpgsqlDataSource db)
    {
        var rows = new List<(string, DateTimeOffset, decimal)>();
        await using var cmd = db.CreateCommand("SELECT account, period_start, quantity FROM billing_period_totals ORDER BY account, period_start");
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
        {
            rows.Add((r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), r.GetDecimal(2)));
        }

        return rows;
    }

    private async Task<(NpgsqlDataSource Db, StreamingOptions Options)> SetUpAsync(string topic)
    {
        var db = await StatementLedger.NewAsync(postgres);
        _kafka.CreateTopic(topic, 2, 1);
        // A dedup horizon of 60 days: the records span a month, and the default (24 h behind the newest) would refuse the older ones.
        return (db, new StreamingOptions
        {
            BootstrapServers = _kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200),
            Pipeline = new AggregationPipelineOptions { DedupHorizon = TimeSpan.FromDays(60) },
        });
    }
}
