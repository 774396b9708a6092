using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Metering.Rating.PeriodTotals;
using Metering.Rating.PriceBooks;

namespace Metering.UnitTests.Rating.PeriodTotals;

/// <summary>The ledger's billing policy without a database: booking periods, late usage, unpriced usage, incremental tiers, contracts.</summary>
public sealed class PeriodTotalsRaterTests
{
    private const string Egress = "egress.gb";
    private static readonly DateTimeOffset October = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset December = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<PeriodTotalKey, StoredPeriodTotal> NothingStored = [];
    private static readonly Dictionary<PeriodTotalKey, BookedAdjustments> NothingBooked = [];
    private static readonly HashSet<DateTimeOffset> NoneClosed = [];

    /// <summary>
    /// October: egress graduated 0.09/GB up to 10,000 GB, then 0.06. November: 100 GB included then 0.08; requests
    /// 0.001 each; seats by volume (0.10 up to 10, then 0.05 for every unit); payments with per-transaction bounds.
    /// </summary>
    private static readonly PriceBook List = PriceBookLoader.Load("""
        {
          "id": "list", "currency": "USD", "rounding": "half_up", "billing_period": { "type": "monthly", "anchor_day": 1 },
          "versions": [
            { "version": "oct", "effective_from": "2026-10-01T00:00:00Z", "effective_to": "2026-11-01T00:00:00Z",
              "prices": { "egress.gb": { "model": "graduated", "unit": "GB",
                "tiers": [ { "up_to": "10000", "unit_price": "0.09" }, { "up_to": null, "unit_price": "0.06" } ] } } },
            { "version": "nov", "effective_from": "2026-11-01T00:00:00Z",
              "prices": {
                "egress.gb": { "model": "graduated", "unit": "GB", "included_units": "100", "tiers": [ { "up_to": null, "unit_price": "0.08" } ] },
                "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.001" },
                "seats": { "model": "volume", "unit": "seat", "tiers": [ { "up_to": "10", "unit_price": "0.10" }, { "up_to": null, "unit_price": "0.05" } ] },
                "payments": { "model": "percentage", "unit": "USD", "rate": "2.9", "per_transaction_min": "0.50" } } }
          ]
        }
        """u8, "list");

    /// <summary>acct-c's contract: egress at 0.05/GB flat from November; everything else at list.</summary>
    private static readonly PriceBook Contract = PriceBookLoader.Load("""
        {
          "id": "acct-c-contract", "account": "acct-c", "parent": "list", "currency": "USD",
          "versions": [ { "version": "c1", "effective_from": "2026-11-01T00:00:00Z",
            "prices": { "egress.gb": { "model": "per_unit", "unit": "GB", "unit_price": "0.05" } } } ]
        }
        """u8, "contract", List);

    private static readonly PeriodTotalsRater Rater = new(new PriceCatalog(List, [Contract]));

    private static UsageWindow Window(string account, string sku, DateTimeOffset start, decimal quantity, long count = 1) =>
        new(account, sku, start, start.AddMinutes(1), quantity, count);

    private static StoredPeriodTotal Stored(decimal quantity, long count, decimal amount, string version) =>
        new(quantity, count, amount, "USD", "list", version, List.Versions.Single(v => v.Version == version).Hash);

    private static PeriodTotalsResult RateOnce(PeriodTotalsRater rater, IReadOnlyList<UsageWindow> windows, IReadOnlySet<DateTimeOffset>? closed = null,
        Dictionary<PeriodTotalKey, StoredPeriodTotal>? stored = null, Dictionary<PeriodTotalKey, BookedAdjustments>? booked = null) =>
        rater.Rate(rater.Plan(windows, closed ?? NoneClosed), stored ?? NothingStored, booked ?? NothingBooked);

    [Fact]
    public void A_late_window_of_a_closed_period_becomes_an_adjustment_in_the_next_open_period_priced_on_top_of_the_frozen_total()
    {
        var octoberKey = new PeriodTotalKey("acct-a", Egress, October);
        var stored = new Dictionary<PeriodTotalKey, StoredPeriodTotal> { [octoberKey] = Stored(9_000m, 2, 810m, "oct") };
        UsageWindow[] windows =
        [
            Window("acct-a", Egress, new DateTimeOffset(2026, 11, 1, 1, 0, 0, TimeSpan.Zero), 500m),
            Window("acct-a", Egress, new DateTimeOffset(2026, 10, 31, 23, 0, 0, TimeSpan.Zero), 2_000m),
        ];

        var result = RateOnce(Rater, windows, closed: new HashSet<DateTimeOffset> { October }, stored: stored);

        // 2,000 GB on top of October's 9,000 cross the 10,000 GB boundary: 1,000 x 0.09 + 1,000 x 0.06 = 150.00, at October's prices.
        var late = Assert.Single(result.Adjustments);
        Assert.Equal((octoberKey, November, 2_000m, 1L, 150.00m, "USD"), (late.Key, late.BookedIn, late.Quantity, late.Count, late.Amount, late.Currency));
        Assert.Equal(stored[octoberKey].PriceBookHash, late.PriceBookHash);
        Assert.Equal("late usage for closed period 2026-10-01T00:00:00Z/2026-11-01T00:00:00Z, windows 2026-10-31T23:00:00.0000000+00:00..2026-10-31T23:01:00.0000000+00:00", late.Reference);

        // The closed total does not change; November's (400 GB beyond the 100 included x 0.08 = 32.00) does.
        var november = Assert.Single(result.Totals);
        Assert.Equal((new PeriodTotalKey("acct-a", Egress, November), December), (november.Key, november.PeriodEnd));
        Assert.Equal((0m, 500m, 0L, 1L, 0m, 32.00m), (november.QuantityBefore, november.QuantityAfter, november.CountBefore, november.CountAfter, november.AmountBefore, november.AmountAfter));

        // Windows are rated in time order; each charge names its input window and the period it belongs to.
        Assert.Equal([(1, October, 150.00m), (0, November, 32.00m)], result.Windows.Select(w => (w.Window, w.PeriodStart, w.Amount)));
    }

    [Fact]
    public void Late_usage_whose_next_period_is_closed_too_books_into_the_first_open_period_after_them()
    {
        UsageWindow[] windows =
        [
            Window("acct-a", Egress, new DateTimeOffset(2026, 10, 20, 0, 0, 0, TimeSpan.Zero), 10m),
            Window("acct-a", Egress, new DateTimeOffset(2026, 11, 20, 0, 0, 0, TimeSpan.Zero), 200m),
        ];

        var plan = Rater.Plan(windows, new HashSet<DateTimeOffset> { October, November });
        Assert.Equal([(October, December), (November, December)], plan.Totals.Select(t => (t.Key.PeriodStart, t.BookedIn!.Value)));
        Assert.All(plan.Totals, t => Assert.True(t.IsLate));

        var result = Rater.Rate(plan, NothingStored, NothingBooked);
        Assert.Empty(result.Totals);
        Assert.Equal([(October, December, 0.90m), (November, December, 8.00m)], result.Adjustments.Select(a => (a.Key.PeriodStart, a.BookedIn, a.Amount)));
    }

    [Fact]
    public void Late_usage_continues_the_tiers_where_the_adjustments_already_booked_left_them()
    {
        var key = new PeriodTotalKey("acct-a", Egress, October);
        var stored = new Dictionary<PeriodTotalKey, StoredPeriodTotal> { [key] = Stored(9_000m, 2, 810m, "oct") };
        var booked = new Dictionary<PeriodTotalKey, BookedAdjustments> { [key] = new(2_000m, 1, 150m) };

        var result = RateOnce(Rater, [Window("acct-a", Egress, new DateTimeOffset(2026, 10, 31, 23, 30, 0, TimeSpan.Zero), 1_000m)],
            closed: new HashSet<DateTimeOffset> { October }, stored: stored, booked: booked);

        // 11,000 GB are already billed (frozen total + adjustment): the next 1,000 GB are all second tier, 0.06 = 60.00.
        var late = Assert.Single(result.Adjustments);
        Assert.Equal((1_000m, 1L, 60.00m), (late.Quantity, late.Count, late.Amount));
        Assert.Empty(result.Totals);
    }

    [Fact]
    public void Unpriced_usage_is_metered_exactly_at_zero_under_book_unpriced()
    {
        UsageWindow[] windows =
        [
            Window("acct-a", "mystery.sku", November.AddHours(1), 12.345678901m, 3),
        ];

        var result = RateOnce(Rater, windows);

        Assert.All(result.Windows, w => Assert.Equal((0m, "XXX", ""), (w.Amount, w.Currency, w.PriceBookHash)));
        Assert.Equal(
            [("mystery.sku", 12.345678901m, 3L, 0m, "XXX", "unpriced", "")],
            result.Totals.Select(t => (t.Key.Sku, t.QuantityAfter, t.CountAfter, t.AmountAfter, t.Currency, t.PriceBook, t.PriceBookVersion)));
    }

    [Fact]
    public void Usage_that_is_no_longer_priced_adds_its_quantity_at_zero_and_keeps_the_total_lineage()
    {
        var key = new PeriodTotalKey("acct-a", Egress, November);
        var stored = new Dictionary<PeriodTotalKey, StoredPeriodTotal> { [key] = Stored(1_000m, 5, 72m, "nov") };

        var result = RateOnce(new PeriodTotalsRater(null), [Window("acct-a", Egress, November.AddDays(3), 50m, 2)], stored: stored);

        var total = Assert.Single(result.Totals);
        Assert.Equal((1_000m, 1_050m, 5L, 7L, 72m, 72m), (total.QuantityBefore, total.QuantityAfter, total.CountBefore, total.CountAfter, total.AmountBefore, total.AmountAfter));
        Assert.Equal(("USD", "list", "nov"), (total.Currency, total.PriceBook, total.PriceBookVersion));
        Assert.Equal(0m, Assert.Single(result.Windows).Amount);
    }

    [Fact]
    public void A_contract_price_replaces_the_list_price_for_its_account_and_other_skus_stay_at_list()
    {
        UsageWindow[] windows =
        [
            Window("acct-a", Egress, November.AddHours(1), 1_000m),
            Window("acct-c", Egress, November.AddHours(1), 1_000m),
            Window("acct-c", "requests", November.AddHours(1), 2_000m),
        ];

        var result = RateOnce(Rater, windows);

        // List: (1,000 - 100 included) x 0.08 = 72.00. Contract: 1,000 x 0.05 = 50.00. Requests at list for both: 2.00.
        var contractHash = Contract.Versions[0].Hash;
        var novHash = List.Versions[1].Hash;
        Assert.Equal(
            [("acct-a", Egress, 72.00m, "list", "nov", novHash), ("acct-c", Egress, 50.00m, "acct-c-contract", "c1", contractHash), ("acct-c", "requests", 2.00m, "list", "nov", novHash)],
            result.Totals.Select(t => (t.Key.Account, t.Key.Sku, t.AmountAfter, t.PriceBook, t.PriceBookVersion, t.PriceBookHash)));
    }

    [Fact]
    public void Volume_tiers_rated_in_time_order_whatever_the_input_order_issue_a_credit_when_a_cheaper_tier_reprices()
    {
        // 8 seats at 0.10 = 0.80; 4 more make 12, all at 0.05 = 0.60: a credit of 0.20; one more, 13 x 0.05 = 0.65: 0.05.
        UsageWindow[] windows =
        [
            Window("acct-a", "seats", November.AddHours(2), 4m), Window("acct-a", "seats", November.AddHours(1), 8m), Window("acct-a", "seats", November.AddHours(3), 1m),
        ];

        var result = RateOnce(Rater, windows);

        Assert.Equal([(1, 0.80m), (0, -0.20m), (2, 0.05m)], result.Windows.Select(w => (w.Window, w.Amount)));
        Assert.Equal(0.65m, Assert.Single(result.Totals).AmountAfter);
    }

    [Fact]
    public void A_total_carried_beyond_the_ledger_range_is_refused_as_an_overflow()
    {
        var key = new PeriodTotalKey("acct-a", "requests", November);
        var stored = new Dictionary<PeriodTotalKey, StoredPeriodTotal> { [key] = new(999_999_999_999_999_999m, 1, 0m, "XXX", "unpriced", "", "") };

        var e = Assert.Throws<OverflowException>(() => RateOnce(new PeriodTotalsRater(null), [Window("acct-a", "requests", November.AddHours(1), 1m)], stored: stored));
        Assert.Contains("acct-a/requests period 2026-11-01", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Two flushes, the second rated on the totals the first stored, charge exactly what one flush of all the windows charges.</summary>
    [Property(MaxTest = 200)]
    public Property Incremental_tiers_over_two_flushes_charge_what_rating_the_sum_once_charges()
    {
        var quantities = Gen.Choose(0, 20_000_000).Select(milli => (decimal)milli / 1000m).ListOf();
        var skus = Gen.Elements(Egress, "seats", "requests");
        return Prop.ForAll(skus.Zip(quantities).Zip(Gen.Choose(0, 100)).ToArbitrary(), t =>
        {
            var ((sku, list), splitPercent) = t;
            var windows = list.Select((q, i) => Window("acct-a", sku, November.AddMinutes(i), q)).ToList();
            var split = windows.Count * splitPercent / 100;

            var first = RateOnce(Rater, windows[..split]);
            var stored = first.Totals.ToDictionary(u => u.Key, u => new StoredPeriodTotal(u.QuantityAfter, u.CountAfter, u.AmountAfter, u.Currency, u.PriceBook, u.PriceBookVersion, u.PriceBookHash));
            var second = RateOnce(Rater, windows[split..], stored: stored);
            var once = RateOnce(Rater, windows.Count == 0 ? [] : [Window("acct-a", sku, November, windows.Sum(w => w.Quantity), windows.Count)]);

            var charged = first.Windows.Sum(w => w.Amount) + second.Windows.Sum(w => w.Amount);
            var expected = once.Windows.Sum(w => w.Amount);
            var final = second.Totals.Count > 0 ? second.Totals[0].AmountAfter : first.Totals.Count > 0 ? first.Totals[0].AmountAfter : 0m;
            return charged == expected && final == expected;
        });
    }
}
