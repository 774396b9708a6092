using Metering.Rating.Money;
using Metering.Rating.Pricing;

namespace Metering.UnitTests.Rating;

public class PricingModelTests
{
    // Stripe-style graduated example: first 5 units at 5.00 + flat 1.00, next 5 (6..10) at 4.00 + flat 2.00, the rest at 3.00.
    private static SkuPrice Graduated() => new("sku", PricingModel.Graduated, "unit", tiers:
    [
        new PriceTier(5, 5.00m, 1.00m),
        new PriceTier(10, 4.00m, 2.00m),
        new PriceTier(null, 3.00m, 0m),
    ]);

    private static SkuPrice Volume() => new("sku", PricingModel.Volume, "unit", tiers:
    [
        new PriceTier(5, 5.00m, 1.00m),
        new PriceTier(10, 4.00m, 2.00m),
        new PriceTier(null, 3.00m, 0m),
    ]);

    [Theory]
    [InlineData("0", "1.00")] // zero units fall in tier 1: its flat fee (flat_fee_at_zero, the default)
    [InlineData("1", "6.00")] // 1 x 5 + 1
    [InlineData("5", "26.00")] // 5 x 5 + 1: the bound 5 is inclusive, still tier 1
    [InlineData("5.5", "30.00")] // 26 + 0.5 x 4 + 2
    [InlineData("10", "48.00")] // 26 + 5 x 4 + 2
    [InlineData("11", "51.00")] // 48 + 1 x 3
    [InlineData("0.001", "1.005")] // 0.001 x 5 + 1
    public void Graduated_prices_each_tier_its_own_units_with_inclusive_upper_bounds(string quantity, string expected) =>
        Assert.Equal(decimal.Parse(expected), Graduated().Amount(decimal.Parse(quantity)));

    [Theory]
    [InlineData("0", "1.00")] // tier 1's flat fee
    [InlineData("5", "26.00")] // 5 x 5 + 1
    [InlineData("6", "26.00")] // 6 x 4 + 2: crossing into tier 2 re-prices every unit
    [InlineData("10", "42.00")] // 10 x 4 + 2
    [InlineData("11", "33.00")] // 11 x 3: cheaper than 10 units
    public void Volume_prices_all_units_at_the_tier_the_total_reaches(string quantity, string expected) =>
        Assert.Equal(decimal.Parse(expected), Volume().Amount(decimal.Parse(quantity)));

    [Fact]
    public void Per_unit_supports_sub_cent_unit_prices_exactly()
    {
        var price = new SkuPrice("req", PricingModel.PerUnit, "request", unitPrice: 0.0000004m);
        Assert.Equal(0.4m, price.Amount(1_000_000m)); // 10^6 x 4 x 10^-7
        Assert.Equal(0.0000004m, price.Amount(1m));
        Assert.Equal(0.00m, Rounding.Round(price.Amount(12_499m), 2, RoundingMode.HalfUp)); // 0.0049996 rounds to 0.00
        Assert.Equal(0.01m, Rounding.Round(price.Amount(12_500m), 2, RoundingMode.HalfUp)); // exactly 0.005 rounds half up
    }

    [Fact]
    public void Package_charges_started_or_completed_blocks_after_free_units()
    {
        var up = new SkuPrice("img", PricingModel.Package, "transform", includedUnits: 5000, packageSize: 1000, packagePrice: 0.50m, packageRounding: QuantityRounding.Up);
        var down = new SkuPrice("img", PricingModel.Package, "transform", includedUnits: 5000, packageSize: 1000, packagePrice: 0.50m, packageRounding: QuantityRounding.Down);
        Assert.Equal(0m, up.Amount(5000)); // all free
        Assert.Equal(0.50m, up.Amount(5001)); // 1 unit starts a block
        Assert.Equal(0m, down.Amount(5999)); // 999 units: no completed block
        Assert.Equal(1.00m, up.Amount(7000)); // exactly two blocks
        Assert.Equal(1.00m, down.Amount(7999));
    }

    [Fact]
    public void Unit_conversion_divides_before_included_units_and_tiers()
    {
        // bytes -> GB (10^9), 100 GB free, then 0.08 per GB.
        var egress = new SkuPrice("egress", PricingModel.PerUnit, "GB", unitPrice: 0.08m, includedUnits: 100, divideBy: 1_000_000_000);
        Assert.Equal(0m, egress.Amount(100_000_000_000m));
        Assert.Equal(0.08m, egress.Amount(101_000_000_000m));
        Assert.Equal(0.00000000008m, egress.Amount(100_000_000_001m)); // one byte over: 10^-9 GB x 0.08
        var roundedUp = new SkuPrice("tokens", PricingModel.PerUnit, "1k tokens", unitPrice: 0.01m, divideBy: 1000, conversionRounding: QuantityRounding.Up);
        Assert.Equal(0.02m, roundedUp.Amount(1001)); // 1.001k -> 2k
    }

    [Fact]
    public void Percentage_charges_rate_plus_fixed_fee_per_transaction_within_bounds()
    {
        var linear = new SkuPrice("pay", PricingModel.Percentage, "USD", percentageRate: 2.9m, fixedFeePerTransaction: 0.30m);
        Assert.Equal(29.30m, linear.Amount(1000m, transactions: 1)); // 1000 x 2.9% + 0.30
        Assert.Equal(58.60m, linear.Amount(2000m, transactions: 2)); // totals suffice without bounds
        Assert.Equal(3.20m, linear.Amount(100m, transactions: 1)); // 2.90 + 0.30
        var bounded = new SkuPrice("pay", PricingModel.Percentage, "USD", percentageRate: 2.9m, fixedFeePerTransaction: 0.30m, perTransactionMin: 0.50m, perTransactionMax: 25m);
        Assert.Equal(0.50m, bounded.TransactionFee(5m)); // 0.145 + 0.30 = 0.445 -> min 0.50
        Assert.Equal(3.20m, bounded.TransactionFee(100m));
        Assert.Equal(25m, bounded.TransactionFee(1000m)); // 29.30 -> max 25
        Assert.True(bounded.NeedsTransactions);
    }

    [Fact]
    public void Very_large_quantities_stay_exact()
    {
        // 10^15 units through graduated tiers.
        Assert.Equal(48m + ((1_000_000_000_000_000m - 10m) * 3m), Graduated().Amount(1_000_000_000_000_000m)); // 26 + (5 x 4 + 2) below tier 3
        var perUnit = new SkuPrice("req", PricingModel.PerUnit, "request", unitPrice: 0.0000004m);
        Assert.Equal(400_000_000m, perUnit.Amount(1_000_000_000_000_000m));
    }

    [Theory]
    [InlineData("0.125", RoundingMode.HalfUp, "0.13")]
    [InlineData("-0.125", RoundingMode.HalfUp, "-0.13")]
    [InlineData("0.125", RoundingMode.HalfEven, "0.12")]
    [InlineData("0.135", RoundingMode.HalfEven, "0.14")]
    [InlineData("0.121", RoundingMode.Up, "0.13")]
    [InlineData("0.129", RoundingMode.Down, "0.12")]
    [InlineData("0.12", RoundingMode.Up, "0.12")]
    public void Rounding_modes_round_to_minor_units_as_documented(string amount, RoundingMode mode, string expected) =>
        Assert.Equal(decimal.Parse(expected), Rounding.Round(decimal.Parse(amount), 2, mode));

    [Fact]
    public void Currencies_know_their_minor_units_and_unknown_codes_are_refused()
    {
        Assert.Equal(2, Currency.Get("USD").MinorUnits);
        Assert.Equal(0, Currency.Get("JPY").MinorUnits);
        Assert.Equal(3, Currency.Get("KWD").MinorUnits);
        Assert.False(Currency.TryGet("XYZ", out _));
    }
}
