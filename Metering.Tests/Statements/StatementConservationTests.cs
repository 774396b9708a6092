using Metering.Ledger.Corrections;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.Statements;
using Metering.Rating.Periods;
using Metering.Rating.Statements;
using Metering.Tests.Storage;
using static Metering.Tests.Statements.StatementLedger;

namespace Metering.Tests.Statements;

/// <summary>
/// The property behind late usage on statements, over random histories against a real PostgreSQL: for every account
/// and closed period, what its final statement billed plus every adjustment line referencing it on later statements
/// (final or draft) equals the period rated from scratch with all of its usage, late usage, voids and amends included,
/// to the cent.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class StatementConservationTests(PostgresFixture postgres)
{
    private static readonly BillingPeriodRule Monthly = BillingPeriodRule.CalendarMonth;
    private static readonly string[] Accounts = ["acct-a", "acct-b", "acct-c"];
    private static readonly string[] Skus = ["requests", "egress"];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task Final_statements_plus_later_differences_equal_each_period_rated_from_scratch(int seed)
    {
        var random = new Random(seed);
        await using var db = await NewAsync(postgres);
        DateTimeOffset[] periods = [Oct, Nov, Dec, Jan];
        // Every (account, period, sku) quantity ever recorded, late or not: the from-scratch truth.
        var truth = new Dictionary<(string, DateTimeOffset, string), (decimal Quantity, long Count)>();

        // Each recorded usage is one event (count 1), so a void or an amend names a real one.
        var events = new List<(string Account, DateTimeOffset Period, string Sku, string Id, decimal Quantity)>();
        var voided = new HashSet<string>();

        void Record((string, DateTimeOffset, string) key, decimal quantity, long count)
        {
            var (q, c) = truth.GetValueOrDefault(key);
            truth[key] = (q + quantity, c + count);
            if (count == 1)
            {
                events.Add((key.Item1, key.Item2, key.Item3, $"e{events.Count}", quantity));
            }
        }

        for (var p = 0; p < periods.Length; p++)
        {
            foreach (var account in Accounts)
            {
                foreach (var sku in Skus)
                {
                    if (random.Next(3) == 0)
                    {
                        continue;
                    }

                    var (quantity, count) = Usage(random, sku);
                    await TotalAsync(db, account, sku, periods[p], quantity, count);
                    Record((account, periods[p], sku), quantity, count);
                }

                // Late usage for an earlier, closed period, booked into this open one.
                for (var late = random.Next(3); late > 0 && p > 0; late--)
                {
                    var original = periods[random.Next(p)];
                    var sku = Skus[random.Next(Skus.Length)];
                    var (quantity, count) = Usage(random, sku);
                    await LateAsync(db, account, sku, periods[p], original, quantity, count);
                    Record((account, original, sku), quantity, count);
                }

                // Corrections of this account's events so far, in this period or a closed one.
                for (var correction = random.Next(3); correction > 0; correction--)
                {
                    var candidates = events.Select((e, i) => (e, i)).Where(x => x.e.Account == account && !voided.Contains(x.e.Id)).ToList();
                    if (candidates.Count == 0)
                    {
                        break;
                    }

                    var (e, index) = candidates[random.Next(candidates.Count)];
                    var isVoid = random.Next(2) == 0;
                    var newQuantity = isVoid ? 0m : Usage(random, e.Sku).Quantity;
                    var write = await CorrectionStore.WriteAsync(db, new CorrectionRequest(account, isVoid ? CorrectionKind.Void : CorrectionKind.Amend, $"k-{seed}-{p}-{e.Id}-{correction}",
                        e.Id, e.Sku, e.Period.AddHours(1), e.Quantity, newQuantity, null, null, null, "test", "test"), Monthly, periods[p].AddDays(1),
                        new CorrectionHorizon(TimeSpan.FromDays(400)), CancellationToken.None);
                    Assert.Equal(CorrectionWriteStatus.Created, write.Status);
                    var (q, c) = truth[(account, e.Period, e.Sku)];
                    truth[(account, e.Period, e.Sku)] = (q + newQuantity - e.Quantity, c - (isVoid ? 1 : 0));
                    if (isVoid)
                    {
                        voided.Add(e.Id);
                    }
                    else
                    {
                        events[index] = e with { Quantity = newQuantity };
                    }
                }
            }

            if (p < periods.Length - 1)
            {
                await PeriodCloser.CloseAsync(db, periods[p], CancellationToken.None, Monthly, now: periods[p + 1].AddMinutes(1), prices: Prices);
            }
        }

        var statements = new List<AccountStatement>();
        foreach (var period in periods)
        {
            statements.AddRange(await StatementQuery.ListAsync(db, Monthly.PeriodOf(period), Monthly, Prices, null, 100, CancellationToken.None));
        }

        Assert.All(statements.Where(s => s.Statement.Period.Start < Jan), s => Assert.True(s.Final));
        foreach (var account in Accounts)
        {
            foreach (var original in periods[..^1])
            {
                var period = Monthly.PeriodOf(original);
                var usage = Skus.Where(k => truth.ContainsKey((account, original, k))).Select(k => new SkuUsage(k, truth[(account, original, k)].Quantity, truth[(account, original, k)].Count)).ToList();
                var fromScratch = StatementBuilder.Build(new StatementInput(account, period, new StatementTerms(original), usage, [], Prices));
                var final = statements.SingleOrDefault(s => s.Statement.Account == account && s.Statement.Period.Start == original)?.Statement;
                var billed = (final is null ? 0 : final.TotalIn("USD") - final.Adjustments.Sum(a => a.Amount))
                    + statements.Where(s => s.Statement.Account == account).SelectMany(s => s.Statement.Adjustments).Where(a => a.Reference == period.ToString()).Sum(a => a.Amount);
                Assert.True(fromScratch.TotalIn("USD") == billed || final is null && usage.Count == 0,
                    $"seed {seed}: {account} {period}: from scratch {fromScratch.TotalIn("USD")}, billed {billed}");
            }
        }
    }

    private static (decimal Quantity, long Count) Usage(Random random, string sku) => sku == "requests"
        ? (random.Next(1, 20_000), 1)
        : (random.Next(1, 40) * 1_000_000_000m + random.Next(0, 1_000_000), 1);
}
