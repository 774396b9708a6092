using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Pricing;
using Metering.Rating.Statements;
using static Metering.UnitTests.Rating.Statements.StatementBooks;

namespace Metering.UnitTests.Rating.Statements;

/// <summary>Statements built from period totals: usage lines with units and tiers, prorated fees, the commitment, unpriced SKUs.</summary>
public sealed class StatementBuilderTests
{
    private static UsageLine Line(Statement s, string sku) => s.Usage.Single(u => u.Sku == sku);

    [Fact]
    public void Graduated_tier_breakdown_sums_exactly_to_the_line_amount()
    {
        // 6,250,550,000,000 bytes / 10^9 = 6,250.55 GB; less 100 included = 6,150.55 billable.
        // tier 1 (0, 1000]:    1,000    x 0.08        =  80.00
        // tier 2 (1000, 5000]: 4,000    x 0.06 + 1.50 = 241.50
        // tier 3 (5000, -):    1,150.55 x 0.04        =  46.022
        // exact 367.522, rounded once on the line (half up) to 367.52.
        var line = Line(Build(new SkuUsage("egress", 6_250_550_000_000m, 10)), "egress");
        Assert.Equal(
            [new TierCharge(1, 0m, 1000m, 1000m, 0.08m, 0m, 80.00m), new TierCharge(2, 1000m, 5000m, 4000m, 0.06m, 1.50m, 241.50m), new TierCharge(3, 5000m, null, 1150.55m, 0.04m, 0m, 46.022m)],
            line.Tiers);
        Assert.Equal(367.522m, line.Tiers.Sum(t => t.Amount));
        Assert.Equal((367.522m, 367.52m, "USD", PricingModel.Graduated), (line.ExactAmount, line.Amount, line.Currency, line.Model));
        Assert.Equal(List.VersionAt(November)!.Prices["egress"].Amount(6_250_550_000_000m), line.ExactAmount);
    }

    [Fact]
    public void A_volume_price_breaks_down_to_the_one_tier_that_prices_every_unit()
    {
        // 40,000,000 CPU-ms = 40 million, in tier 2 (30, 1000]: 40 x 0.015 + 1.00 flat = 1.60.
        var line = Line(Build(new SkuUsage("cpu", 40_000_000m, 4)), "cpu");
        Assert.Equal([new TierCharge(2, 30m, 1000m, 40m, 0.015m, 1.00m, 1.600m)], line.Tiers);
        Assert.Equal(1.60m, line.Amount);
    }

    [Fact]
    public void Included_units_and_divide_by_appear_on_the_line()
    {
        // egress 100,250,000,000 bytes = 100.25 GB; 100 included; 0.25 billable x 0.08 = 0.02.
        // dns 2,500,000 queries (no conversion); 1,000,000 included; 1,500,000 billable = 2 started blocks x 0.40 = 0.80.
        var s = Build(new SkuUsage("egress", 100_250_000_000m, 7), new SkuUsage("dns", 2_500_000m, 2_500_000));
        var egress = Line(s, "egress");
        Assert.Equal((100_250_000_000m, "1/1000000000 GB", 7L, 100.25m, 100m, 0.25m, "GB", 0.02m),
            (egress.RecordedQuantity, egress.RecordedUnit, egress.RecordCount, egress.ConvertedQuantity, egress.IncludedUnitsApplied, egress.BillableQuantity, egress.BillableUnit, egress.Amount));
        Assert.Equal([new TierCharge(1, 0m, 1000m, 0.25m, 0.08m, 0m, 0.02m)], egress.Tiers);
        var dns = Line(s, "dns");
        Assert.Equal((2_500_000m, "query", 2_500_000m, 1_000_000m, 1_500_000m, "query", 0.80m),
            (dns.RecordedQuantity, dns.RecordedUnit, dns.ConvertedQuantity, dns.IncludedUnitsApplied, dns.BillableQuantity, dns.BillableUnit, dns.Amount));
        Assert.Empty(dns.Tiers);
    }

    [Fact]
    public void Usage_inside_the_included_units_uses_only_what_it_has_and_costs_nothing()
    {
        // 50.5 GB of 100 included: 50.5 applied, nothing billable, no tier reached.
        var egress = Line(Build(new SkuUsage("egress", 50_500_000_000m, 1)), "egress");
        Assert.Equal((50.5m, 50.5m, 0m, 0m, true), (egress.ConvertedQuantity, egress.IncludedUnitsApplied, egress.BillableQuantity, egress.Amount, egress.Priced));
        Assert.Empty(egress.Tiers);
    }

    [Fact]
    public void A_fee_prorated_from_a_mid_period_start_charges_20_of_30_days()
    {
        // Subscribed on day 11 of a 30-day November: active 11-30 Nov = 20 days, factor 20/30.
        // platform 20.00 x 20/30 = 13.333... -> 13.33; support is not prorated: 10.00, factor 1.
        // No usage: the commitment's true-up is the whole 100.00. Total 13.33 + 10.00 + 100.00 = 123.33.
        var start = new DateTimeOffset(2026, 11, 11, 0, 0, 0, TimeSpan.Zero);
        var s = StatementBuilder.Build(Input([], terms: new StatementTerms(start)));
        var hash = List.VersionAt(November)!.Hash;
        Assert.Equal(
            [new FeeLine("platform", start, December, 20m / 30m, 13.33m, "USD", "list", "nov", hash), new FeeLine("support", start, December, 1m, 10.00m, "USD", "list", "nov", hash)],
            s.Fees);
        Assert.Equal(0.6666666666666666666666666667m, s.Fees[0].ProrationFactor);
        Assert.Equal([new CurrencyTotal("USD", 0m, 23.33m, 100.00m, 0m, 123.33m)], s.Totals);
    }

    [Fact]
    public void A_fee_prorated_to_a_mid_period_end_charges_the_days_before_it()
    {
        // Subscription ends 16 Nov 00:00: active 1-15 Nov = 15 of 30 days, factor 0.5: platform 20.00 x 0.5 = 10.00.
        var end = new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero);
        var s = StatementBuilder.Build(Input([], terms: new StatementTerms(November.AddMonths(-3), end)));
        Assert.Equal([("platform", November, end, 0.5m, 10.00m), ("support", November, end, 1m, 10.00m)],
            s.Fees.Select(f => (f.FeeId, f.ServiceStart, f.ServiceEnd, f.ProrationFactor, f.Amount)));
    }

    [Fact]
    public void A_subscription_not_active_in_the_period_owes_no_fee_and_no_commitment()
    {
        // Ended 20 Oct: November's usage is still rated (100 x 0.01 = 1.00), but no fee and no true-up.
        var s = StatementBuilder.Build(Input([new SkuUsage("requests", 100m, 100)],
            terms: new StatementTerms(new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 10, 20, 0, 0, 0, TimeSpan.Zero))));
        Assert.Empty(s.Fees);
        Assert.Empty(s.Commitments);
        Assert.Equal(1.00m, s.TotalIn("USD"));
    }

    [Fact]
    public void An_account_under_its_commitment_gets_the_true_up()
    {
        // requests 5,000 x 0.01 = 50.00; fees 20.00 + 10.00; true-up 100.00 - 50.00 = 50.00; total 130.00.
        var s = Build(new SkuUsage("requests", 5_000m, 5_000));
        Assert.Equal([new CommitmentLine(100.00m, 50.00m, 50.00m, "USD", "list", "nov", List.VersionAt(November)!.Hash)], s.Commitments);
        Assert.Equal([new CurrencyTotal("USD", 50.00m, 30.00m, 50.00m, 0m, 130.00m)], s.Totals);
    }

    [Fact]
    public void An_account_over_its_commitment_gets_no_true_up()
    {
        // requests 12,345 x 0.01 = 123.45 > 100.00: true-up 0; total 123.45 + 30.00 = 153.45.
        var s = Build(new SkuUsage("requests", 12_345m, 12_345));
        Assert.Equal((100.00m, 123.45m, 0m), (s.Commitments.Single().Committed, s.Commitments.Single().UsageCharged, s.Commitments.Single().TrueUp));
        Assert.Equal(153.45m, s.TotalIn("USD"));
    }

    [Fact]
    public void Adjustments_booked_into_the_period_do_not_count_against_its_commitment()
    {
        // usage 50.00 charged against the commitment: true-up 50.00. The late-usage adjustment of 12.00 is billed on top:
        // it was compared with its own period's commitment already. Total 50 + 30 + 50 + 12 = 142.00.
        var late = new AdjustmentLine(AdjustmentLine.LateUsage, "2026-10-01T00:00:00Z/2026-11-01T00:00:00Z", "requests", 1_200m, 12.00m, "USD", "late October usage");
        var s = StatementBuilder.Build(Input([new SkuUsage("requests", 5_000m, 5_000)], [late]));
        Assert.Equal((50.00m, 50.00m), (s.Commitments.Single().UsageCharged, s.Commitments.Single().TrueUp));
        Assert.Equal([new CurrencyTotal("USD", 50.00m, 30.00m, 50.00m, 12.00m, 142.00m)], s.Totals);
        Assert.Equal([late], s.Adjustments);
    }

    [Fact]
    public void A_contract_account_is_rated_by_its_contract_and_keeps_the_list_fees()
    {
        // The contract prices requests at 0.005 and commits 200.00; egress and the fees stay at list.
        // requests 5,000 x 0.005 = 25.00 (contract); egress 100.25 GB -> 0.25 x 0.08 = 0.02 (list); fees 20.00 + 10.00 (list);
        // true-up 200.00 - 25.02 = 174.98 (contract). Total 25.02 + 30.00 + 174.98 = 230.00.
        var contract = PriceBookLoader.Load("""
            { "id": "acct-c-contract", "account": "acct-c", "parent": "list", "currency": "USD",
              "versions": [ { "version": "c1", "effective_from": "2026-11-01T00:00:00Z",
                "prices": { "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.005" } }, "minimum_commitment": "200.00" } ] }
            """u8, "contract", List);
        var s = StatementBuilder.Build(Input([new SkuUsage("requests", 5_000m, 5_000), new SkuUsage("egress", 100_250_000_000m, 1)],
            prices: new PriceCatalog(List, [contract]), account: "acct-c"));
        Assert.Equal([("egress", 0.02m, "list"), ("requests", 25.00m, "acct-c-contract")], s.Usage.Select(u => (u.Sku, u.Amount, u.PriceBook!)));
        Assert.Equal(["list", "list"], s.Fees.Select(f => f.PriceBook));
        Assert.Equal((200.00m, 25.02m, 174.98m, "acct-c-contract", "c1"),
            (s.Commitments.Single().Committed, s.Commitments.Single().UsageCharged, s.Commitments.Single().TrueUp, s.Commitments.Single().PriceBook, s.Commitments.Single().PriceBookVersion));
        Assert.Equal(230.00m, s.TotalIn("USD"));
    }

    [Fact]
    public void A_SKU_the_book_does_not_price_is_flagged_sku_not_in_book_with_nothing_charged()
    {
        var s = Build(new SkuUsage("requests", 100m, 100), new SkuUsage("made.up", 42.5m, 3));
        var line = Line(s, "made.up");
        Assert.Equal((false, UsageLine.SkuNotInBook, 42.5m, 3L, 0m, (string?)null, "list", "nov"),
            (line.Priced, line.UnpricedReason, line.RecordedQuantity, line.RecordCount, line.Amount, line.Currency, line.PriceBook, line.PriceBookVersion));
        Assert.Contains("made.up", line.UnpricedDetail, StringComparison.Ordinal);
        Assert.Equal(["USD"], s.Totals.Select(t => t.Currency));
        Assert.Equal(1.00m, s.Totals.Single().Usage);
    }

    [Fact]
    public void Usage_without_a_price_book_is_flagged_no_price_book()
    {
        // No book at all, and a period (October) before the list book's only version: both no_price_book, no fee, no commitment.
        var none = StatementBuilder.Build(Input([new SkuUsage("requests", 100m, 100)], prices: new PriceCatalog(null, [])));
        var october = StatementBuilder.Build(new StatementInput("acct-1", new BillingPeriod(November.AddMonths(-1), November), new StatementTerms(November.AddMonths(-1)),
            [new SkuUsage("requests", 100m, 100)], [], Prices));
        foreach (var s in new[] { none, october })
        {
            var line = Line(s, "requests");
            Assert.Equal((false, UsageLine.NoPriceBook, 0m), (line.Priced, line.UnpricedReason, line.Amount));
            Assert.Empty(s.Fees);
            Assert.Empty(s.Commitments);
            Assert.Empty(s.Totals);
        }

        Assert.Contains("no version effective", Line(october, "requests").UnpricedDetail, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bounded_percentage_price_is_rated_per_transaction_and_unpriced_without_them()
    {
        // 5.00 x 2.9 % + 0.30 = 0.445 -> min 0.50; 100.00 -> 3.20; 1000.00 -> 29.30 -> max 25.00; sum 28.70.
        var rated = Line(Build(new SkuUsage("payments", 1_105.00m, 3, [5.00m, 100.00m, 1_000.00m])), "payments");
        Assert.Equal((true, 28.70m, 1_105.00m, "USD"), (rated.Priced, rated.Amount, rated.BillableQuantity, rated.BillableUnit));
        var unpriced = Line(Build(new SkuUsage("payments", 1_105.00m, 3)), "payments");
        Assert.Equal((false, UsageLine.TransactionsRequired, 0m), (unpriced.Priced, unpriced.UnpricedReason, unpriced.Amount));
    }

    [Fact]
    public void Bad_input_is_refused_naming_what_is_wrong()
    {
        Assert.Contains("two usage totals", Assert.Throws<ArgumentException>(() => Build(new SkuUsage("requests", 1m, 1), new SkuUsage("requests", 2m, 1))).Message, StringComparison.Ordinal);
        Assert.Contains("must not be negative", Assert.Throws<ArgumentException>(() => Build(new SkuUsage("requests", -1m, 1))).Message, StringComparison.Ordinal);
        Assert.Contains("do not match", Assert.Throws<ArgumentException>(() => Build(new SkuUsage("payments", 10m, 2, [4m, 5m]))).Message, StringComparison.Ordinal);
        Assert.Contains("'refund' is not one of", Assert.Throws<ArgumentException>(() =>
            StatementBuilder.Build(Input([], [new AdjustmentLine("refund", "x", null, null, 1m, "USD", "r")]))).Message, StringComparison.Ordinal);
        Assert.Contains("more fractional digits", Assert.Throws<ArgumentException>(() =>
            StatementBuilder.Build(Input([], [new AdjustmentLine(AdjustmentLine.Manual, "x", null, null, 1.005m, "USD", "r")]))).Message, StringComparison.Ordinal);
        Assert.Contains("not a known ISO 4217", Assert.Throws<ArgumentException>(() =>
            StatementBuilder.Build(Input([], [new AdjustmentLine(AdjustmentLine.Manual, "x", null, null, 1m, "XYZ", "r")]))).Message, StringComparison.Ordinal);
    }
}
