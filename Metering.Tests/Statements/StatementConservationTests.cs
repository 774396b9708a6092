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
/// (final or draft) equals the period rated from scratch with all of its usage, late included, to the cent.
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

        void Record((string, DateTimeOffset, string) key, decimal quantity, long count)
        {
            var (q, c) = truth.GetValueOrDefault(key);
            truth[key] = (q + quantity, c + count);
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
        ? (random.Next(1, 20_000), random.Next(1, 50))
        : (random.Next(1, 40) * 1_000_000_000m + random.Next(0, 1_000_000), random.Next(1, 10));
}
