using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Metering.Rating.Incremental;
using Metering.Rating.Money;
using Metering.Rating.Pricing;

namespace Metering.UnitTests.Rating;

public class IncrementalRatingTests
{
    private static readonly SkuPrice[] Models =
    [
        new("per-unit", PricingModel.PerUnit, "request", unitPrice: 0.0000004m),
        new("graduated", PricingModel.Graduated, "GB", includedUnits: 100, divideBy: 1000, tiers:
        [
            new PriceTier(1000, 0.08m, 0), new PriceTier(5000, 0.06m, 1.5m), new PriceTier(20000, 0.04m, 0),
            new PriceTier(50000, 0.03m, 0), new PriceTier(null, 0.02m, 10m),
        ]),
        new("volume", PricingModel.Volume, "unit", tiers: [new PriceTier(500, 0.10m, 0), new PriceTier(2000, 0.07m, 5m), new PriceTier(null, 0.05m, 0)]),
        new("package", PricingModel.Package, "transform", includedUnits: 50, packageSize: 100, packagePrice: 0.50m, packageRounding: QuantityRounding.Up),
        new("percentage", PricingModel.Percentage, "USD", percentageRate: 2.9m, fixedFeePerTransaction: 0.30m),
        new("converted", PricingModel.PerUnit, "1k tokens", unitPrice: 0.011m, divideBy: 1000, conversionRounding: QuantityRounding.Up),
    ];

    private static decimal Rate(SkuPrice price, IEnumerable<(decimal Quantity, long Count)> windows, List<decimal>? charges = null)
    {
        var state = default(PeriodRatingState);
        decimal sum = 0;
        foreach (var (q, n) in windows)
        {
            var charge = WindowRater.RateWindow(price, ref state, q, n, 2, RoundingMode.HalfUp);
            charges?.Add(charge);
            sum += charge;
        }

        return sum;
    }

    /// <summary>Any split of a period's usage into windows, in any order, sums exactly to the price of the total, for every model.</summary>
    [Property(MaxTest = 300)]
    public Property Window_charges_sum_to_the_whole_period_price_for_any_split_and_order()
    {
        var windows = Gen.Choose(0, 3_000_000).Select(milli => (decimal)milli / 1000m)
            .Zip(Gen.Choose(0, 50), (q, n) => (Quantity: q, Count: (long)n))
            .ListOf();
        var gen = Gen.Choose(0, Models.Length - 1).Zip(windows).Zip(Gen.Choose(0, int.MaxValue));
        return Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var ((model, list), seed) = t;
            var price = Models[model];
            var shuffled = list.OrderBy(_ => new Random(seed).Next()).ToList();
            var total = list.Aggregate(0m, (s, w) => s + w.Quantity);
            var count = list.Aggregate(0L, (s, w) => s + w.Count);
            var expected = Rounding.Round(price.Amount(total, count), 2, RoundingMode.HalfUp);
            return Rate(price, shuffled) == expected && Rate(price, list) == expected;
        });
    }

    /// <summary>Graduated tiers against a reference that walks the quantity unit range by range.</summary>
    [Property(MaxTest = 300)]
    public Property Graduated_price_equals_a_tier_by_tier_reference()
    {
        var price = Models[1];
        return Prop.ForAll(Gen.Choose(0, 100_000_000).Select(q => q / 1000m).ToArbitrary(), raw =>
        {
            var billable = Math.Max(0, (raw / 1000m) - 100m);
            decimal expected = 0, lower = 0;
            foreach (var tier in price.Tiers)
            {
                var upper = tier.UpTo ?? decimal.MaxValue;
                if (billable > lower)
                {
                    expected += ((Math.Min(billable, upper) - lower) * tier.UnitPrice) + tier.FlatFee;
                }

                lower = upper;
            }

            return price.Amount(raw) == expected;
        });
    }

    [Fact]
    public void Volume_tiers_produce_a_negative_delta_when_the_total_crosses_into_a_cheaper_tier()
    {
        var volume = Models[2];
        var charges = new List<decimal>();
        // 500 x 0.10 = 50.00; then 501 x 0.07 + 5 = 40.07: the second window is a credit of 9.93.
        var sum = Rate(volume, [(500m, 1), (1m, 1)], charges);
        Assert.Equal([50.00m, -9.93m], charges);
        Assert.Equal(40.07m, sum);
    }

    [Fact]
    public void Rounding_per_window_still_telescopes_to_the_rounded_total()
    {
        var perUnit = Models[0];
        var charges = new List<decimal>();
        // 1,000 windows of 12,500 requests: each is 0.005 exactly; rounding each window alone would give 10.00 or 0.
        var sum = Rate(perUnit, Enumerable.Repeat((12_500m, 1L), 1000), charges);
        Assert.Equal(5.00m, sum); // 12.5M x 0.0000004
        Assert.Equal(500, charges.Count(c => c == 0.01m)); // alternating 0.01 and 0.00
    }

    [Fact]
    public void Transactions_with_per_transaction_bounds_are_rated_one_by_one()
    {
        var bounded = new SkuPrice("pay", PricingModel.Percentage, "USD", percentageRate: 2.9m, fixedFeePerTransaction: 0.30m, perTransactionMin: 0.50m, perTransactionMax: 25m);
        var state = default(PeriodRatingState);
        var a = WindowRater.RateTransaction(bounded, ref state, 5m, 2, RoundingMode.HalfUp); // 0.445 -> 0.50
        var b = WindowRater.RateTransaction(bounded, ref state, 1000m, 2, RoundingMode.HalfUp); // 29.30 -> 25.00
        Assert.Equal(0.50m, a);
        Assert.Equal(25.00m, b);
        Assert.Equal(25.50m, state.Charged);
    }
}
