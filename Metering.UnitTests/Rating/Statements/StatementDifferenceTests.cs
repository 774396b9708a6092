using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;
using static Metering.UnitTests.Rating.Statements.StatementBooks;

namespace Metering.UnitTests.Rating.Statements;

/// <summary>The difference between a final statement and a recomputed one: what late usage, corrections and re-rating book.</summary>
public sealed class StatementDifferenceTests
{
    private const string Reference = "2026-11-01T00:00:00Z/2026-12-01T00:00:00Z";

    private static decimal Sum(IEnumerable<AdjustmentLine> lines, string currency) => lines.Where(l => l.Currency == currency).Sum(l => l.Amount);

    [Fact]
    public void Late_usage_under_a_commitment_already_trued_up_makes_a_difference_of_zero()
    {
        // Final: 9,915 requests x 0.01 = 99.15, true-up 100.00 - 99.15 = 0.85, total 99.15 + 30.00 + 0.85 = 130.00.
        // Late 85 requests: 10,000 x 0.01 = 100.00, true-up 0, total 130.00. Difference: usage +0.85, true-up -0.85 = 0.00.
        var final = Build(new SkuUsage("requests", 9_915m, 9_915));
        var recomputed = Build(new SkuUsage("requests", 10_000m, 10_000));
        var diff = StatementDifference.Between(final, recomputed, AdjustmentLine.LateUsage);
        Assert.Equal([("requests", 85m, 0.85m), (null, null, -0.85m)], diff.Select(l => (l.Sku, l.Quantity, l.Amount)));
        Assert.All(diff, l => Assert.Equal((AdjustmentLine.LateUsage, Reference, "USD"), (l.Kind, l.Reference, l.Currency)));
        Assert.Equal(0.00m, Sum(diff, "USD"));
        Assert.Equal((130.00m, 130.00m), (final.TotalIn("USD"), recomputed.TotalIn("USD")));
    }

    [Fact]
    public void Late_usage_beyond_the_commitment_costs_only_the_excess()
    {
        // Final as above (130.00). Late 200 requests: 10,115 x 0.01 = 101.15 > 100.00, true-up 0, total 131.15.
        // Difference: usage +2.00, true-up -0.85 = +1.15, the usage beyond the commitment.
        var final = Build(new SkuUsage("requests", 9_915m, 9_915));
        var recomputed = Build(new SkuUsage("requests", 10_115m, 10_115));
        var diff = StatementDifference.Between(final, recomputed, AdjustmentLine.LateUsage);
        Assert.Equal([("requests", 200m, 2.00m), (null, null, -0.85m)], diff.Select(l => (l.Sku, l.Quantity, l.Amount)));
        Assert.Equal(1.15m, Sum(diff, "USD"));
        Assert.Equal(131.15m, final.TotalIn("USD") + Sum(diff, "USD"));
        Assert.Equal(131.15m, recomputed.TotalIn("USD"));
    }

    [Fact]
    public void The_difference_booked_into_the_next_period_is_billed_on_top_of_that_periods_true_up()
    {
        // November's late usage beyond its commitment books +2.00 and -0.85 (1.15) into December. December: 3,000 requests
        // = 30.00, charged against December's commitment alone: true-up 70.00 with or without the difference, so the 1.15
        // is billed once, on top (December's commitment must not absorb November's excess).
        var diff = StatementDifference.Between(Build(new SkuUsage("requests", 9_915m, 9_915)), Build(new SkuUsage("requests", 10_115m, 10_115)), AdjustmentLine.LateUsage);
        var december = new Metering.Rating.Periods.BillingPeriod(December, December.AddMonths(1));
        StatementInput Dec(IReadOnlyList<AdjustmentLine> adjustments) => new("acct-1", december, new StatementTerms(November), [new SkuUsage("requests", 3_000m, 3_000)], adjustments, Prices);
        var with = StatementBuilder.Build(Dec(diff));
        var without = StatementBuilder.Build(Dec([]));
        Assert.Equal((30.00m, 70.00m), (with.Commitments.Single().UsageCharged, with.Commitments.Single().TrueUp));
        Assert.Equal((131.15m, 130.00m), (with.TotalIn("USD"), without.TotalIn("USD")));
    }

    [Fact]
    public void A_rerate_under_a_book_in_another_currency_takes_back_the_old_lines_and_charges_the_new()
    {
        // USD final: requests 50.00 + fees 30.00 + true-up 50.00 = 130.00. Same prices in EUR: 130.00 EUR.
        var final = Build(new SkuUsage("requests", 5_000m, 5_000));
        var eur = StatementBuilder.Build(Input([new SkuUsage("requests", 5_000m, 5_000)], prices: new PriceCatalog(Load("list-eur", "EUR"), [])));
        var diff = StatementDifference.Between(final, eur, AdjustmentLine.Rerate);
        Assert.Equal((-130.00m, 130.00m), (Sum(diff, "USD"), Sum(diff, "EUR")));
        Assert.Equal([("requests", -5_000m, -50.00m, "USD"), ("requests", 5_000m, 50.00m, "EUR")],
            diff.Where(l => l.Sku is not null).Select(l => (l.Sku!, l.Quantity!.Value, l.Amount, l.Currency)));
        Assert.All(diff, l => Assert.Equal(AdjustmentLine.Rerate, l.Kind));
    }

    [Fact]
    public void Adjustment_lines_only_one_statement_has_are_added_or_taken_back()
    {
        var credit = new AdjustmentLine(AdjustmentLine.Manual, "ticket-17", null, null, -5.00m, "USD", "goodwill credit");
        var usage = new[] { new SkuUsage("requests", 12_345m, 12_345) };
        var plain = StatementBuilder.Build(Input(usage));
        var credited = StatementBuilder.Build(Input(usage, [credit]));
        Assert.Equal([credit], StatementDifference.Between(plain, credited, AdjustmentLine.Correction));
        Assert.Equal([credit with { Amount = 5.00m, Reason = "reversal of: goodwill credit" }], StatementDifference.Between(credited, plain, AdjustmentLine.Correction));
        Assert.Empty(StatementDifference.Between(credited, credited, AdjustmentLine.Correction));
    }

    [Fact]
    public void Statements_of_different_periods_or_accounts_have_no_difference()
    {
        var november = Build(new SkuUsage("requests", 1m, 1));
        var other = StatementBuilder.Build(Input([new SkuUsage("requests", 1m, 1)], account: "acct-2"));
        Assert.Throws<ArgumentException>(() => StatementDifference.Between(november, other, AdjustmentLine.LateUsage));
        Assert.Throws<ArgumentException>(() => StatementDifference.Between(november, november, "refund"));
    }

    /// <summary>
    /// For random usage of every model split into a first part and late arrivals: the first statement plus its difference
    /// equals the statement of all usage, per currency, per SKU and in total; and the difference costs exactly
    /// max(commitment, usage of all) - max(commitment, usage of the first part), i.e. nothing until usage exceeds the commitment.
    /// </summary>
    [Property(MaxTest = 300)]
    public Property Building_all_usage_equals_the_first_part_plus_its_difference()
    {
        string[] skus = ["requests", "egress", "cpu", "dns", "payments"];
        var part = Gen.Choose(0, 2_000_000).Zip(Gen.Choose(0, 100)).Zip(Gen.Choose(0, 5));
        var gen = part.ArrayOf(skus.Length);
        return Prop.ForAll(gen.ToArbitrary(), parts =>
        {
            if (parts.Length != skus.Length)
            {
                return true; // FsCheck can shrink an array to another length; only whole statements are meaningful
            }

            var first = new List<SkuUsage>();
            var all = new List<SkuUsage>();
            for (var i = 0; i < skus.Length; i++)
            {
                var ((units, percent), late) = parts[i];
                // Scales that cross tiers: egress up to 2,000 GB, cpu up to 2,000 million, dns up to 2*10^7 queries, requests to 2*10^6.
                var quantity = skus[i] switch { "egress" => units * 1_000_000m, "cpu" => units * 1_000m, "dns" => units * 10m, "payments" => units / 100m, _ => (decimal)units };
                var early = decimal.Round(quantity * percent / 100m, 2, MidpointRounding.ToZero);
                if (skus[i] == "payments")
                {
                    // Transactions: the early part is one transaction, the late part `late` equal ones plus the remainder.
                    var rest = quantity - early;
                    var each = late == 0 ? 0 : decimal.Round(rest / late, 2, MidpointRounding.ToZero);
                    var lateTx = Enumerable.Repeat(each, late).Append(rest - (each * late)).ToList();
                    first.Add(new SkuUsage("payments", early, 1, [early]));
                    all.Add(new SkuUsage("payments", quantity, 1 + lateTx.Count, [early, .. lateTx]));
                    continue;
                }

                first.Add(new SkuUsage(skus[i], early, 1));
                all.Add(new SkuUsage(skus[i], quantity, 1 + late));
            }

            var final = StatementBuilder.Build(Input(first));
            var recomputed = StatementBuilder.Build(Input(all));
            var diff = StatementDifference.Between(final, recomputed, AdjustmentLine.LateUsage);
            var totals = final.Totals.Select(t => t.Currency).Union(recomputed.Totals.Select(t => t.Currency))
                .All(c => final.TotalIn(c) + Sum(diff, c) == recomputed.TotalIn(c));
            var perSku = recomputed.Usage.All(r =>
                final.Usage.Single(f => f.Sku == r.Sku).Amount + diff.Where(l => l.Sku == r.Sku).Sum(l => l.Amount) == r.Amount
                && final.Usage.Single(f => f.Sku == r.Sku).RecordedQuantity + diff.Where(l => l.Sku == r.Sku).Sum(l => l.Quantity ?? 0) == r.RecordedQuantity);
            var usageFirst = final.Totals.Single().Usage;
            var usageAll = recomputed.Totals.Single().Usage;
            var commitmentRule = Sum(diff, "USD") == Math.Max(100.00m, usageAll) - Math.Max(100.00m, usageFirst);
            return totals && perSku && commitmentRule;
        });
    }

    /// <summary>The tier breakdown of every graduated or volume quantity sums exactly to the unrounded amount.</summary>
    [Property(MaxTest = 300)]
    public Property Tier_breakdowns_sum_exactly_to_the_amount()
    {
        var version = List.VersionAt(November)!;
        return Prop.ForAll(Gen.Choose(0, int.MaxValue).Zip(Gen.Elements("egress", "cpu")).ToArbitrary(), t =>
        {
            var (units, sku) = t;
            var raw = units * 3_217m;
            var price = version.Prices[sku];
            return price.TierBreakdown(raw).Sum(x => x.Amount) == price.Amount(raw);
        });
    }
}
