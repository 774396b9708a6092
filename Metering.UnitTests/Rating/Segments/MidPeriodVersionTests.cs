using Metering.Rating.PeriodTotals;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;

namespace Metering.UnitTests.Rating.Segments;

/// <summary>
/// A version that takes effect inside a billing period (docs/pricebooks.md, "Versions that take effect inside a
/// period"): windows from its instant on are priced by it, on top of the period's quantity before it, and the
/// statement shows a line per version. Worked example: December, egress graduated; 'v1' from Dec 1 prices 1.00/GB up
/// to 100 GB then 0.50; 'v2' from Dec 15 prices 2.00/GB up to 100 GB then 1.00.
/// </summary>
public sealed class MidPeriodVersionTests
{
    private const string Egress = "egress.gb";
    private static readonly DateTimeOffset December = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Fifteenth = new(2026, 12, 15, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset January = new(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly BillingPeriod DecemberPeriod = new(December, January);

    private static PriceBook Book(string firstTierFlatFee = "0") => PriceBookLoader.Load(System.Text.Encoding.UTF8.GetBytes($$"""
        {
          "id": "list", "currency": "USD", "rounding": "half_up", "billing_period": { "type": "monthly", "anchor_day": 1 },
          "versions": [
            { "version": "v1", "effective_from": "2026-12-01T00:00:00Z", "effective_to": "2026-12-15T00:00:00Z",
              "prices": { "egress.gb": { "model": "graduated", "unit": "GB",
                "tiers": [ { "up_to": "100", "unit_price": "1.00", "flat_fee": "{{firstTierFlatFee}}" }, { "up_to": null, "unit_price": "0.50" } ] } } },
            { "version": "v2", "effective_from": "2026-12-15T00:00:00Z",
              "prices": { "egress.gb": { "model": "graduated", "unit": "GB",
                "tiers": [ { "up_to": "100", "unit_price": "2.00", "flat_fee": "{{firstTierFlatFee}}" }, { "up_to": null, "unit_price": "1.00" } ] } } }
          ]
        }
        """), "list");

    private static readonly PriceCatalog Prices = new(Book(), []);
    private static readonly PeriodTotalsRater Rater = new(Prices);

    private static UsageWindow Window(DateTimeOffset start, decimal quantity, long count = 1) => new("acct-1", Egress, start, start.AddMinutes(1), quantity, count);

    private static readonly Dictionary<PeriodTotalKey, StoredPeriodTotal> NothingStored = [];
    private static readonly Dictionary<PeriodTotalKey, BookedAdjustments> NothingBooked = [];
    private static readonly PeriodTotalKey FromStart = new("acct-1", Egress, December);
    private static readonly PeriodTotalKey FromFifteenth = FromStart with { PriceFrom = Fifteenth };

    private static StoredPeriodTotal Stored(decimal quantity, long count, decimal amount, string version) =>
        new(quantity, count, amount, "USD", "list", version, Prices.List!.Versions.Single(v => v.Version == version).Hash);

    [Fact]
    public void A_version_effective_inside_the_period_cuts_it_into_two_segments_and_one_at_a_period_start_does_not()
    {
        var december = Prices.Segments("acct-1", Egress, DecemberPeriod);
        Assert.Equal([December, Fifteenth], december.Select(s => s.From));
        Assert.Equal(["v1", "v2"], december.Select(s => s.Resolution.Version!.Version));

        var january = Prices.Segments("acct-1", Egress, new BillingPeriod(January, January.AddMonths(1)));
        Assert.Equal([January], january.Select(s => s.From));
    }

    [Fact]
    public void Windows_from_the_instant_on_are_priced_by_the_new_version_on_top_of_the_quantity_before_it()
    {
        // 80 GB on Dec 3 at v1: 80.00. 50 GB on Dec 20 at v2 on top of 80: v2(130) - v2(80) = 230.00 - 160.00 = 70.00.
        var result = Rater.Rate(Rater.Plan([Window(December.AddDays(2), 80), Window(December.AddDays(19), 50)], new HashSet<DateTimeOffset>()), NothingStored, NothingBooked);

        var first = result.Totals.Single(t => t.Key == FromStart);
        var second = result.Totals.Single(t => t.Key == FromFifteenth);
        Assert.Equal((80m, 80.00m, "v1"), (first.QuantityAfter, first.AmountAfter, first.PriceBookVersion));
        Assert.Equal((50m, 70.00m, "v2"), (second.QuantityAfter, second.AmountAfter, second.PriceBookVersion));
        Assert.True(first.IsPart && second.IsPart);
        Assert.Equal(150.00m, result.Windows.Sum(c => c.Amount));
    }

    [Fact]
    public void Late_usage_before_the_instant_re_prices_the_later_segment_and_the_window_is_charged_the_whole_move()
    {
        // Stored: 80 GB at v1 (80.00) and 50 GB at v2 (70.00). 30 GB more on Dec 5: v1(110) = 105.00, and v2's 50 GB now
        // sit on top of 110: v2(160) - v2(110) = 260.00 - 210.00 = 50.00. The window moves the period by 155 - 150 = 5.00.
        var stored = new Dictionary<PeriodTotalKey, StoredPeriodTotal> { [FromStart] = Stored(80, 1, 80.00m, "v1"), [FromFifteenth] = Stored(50, 1, 70.00m, "v2") };
        var result = Rater.Rate(Rater.Plan([Window(December.AddDays(4), 30)], new HashSet<DateTimeOffset>()), stored, NothingBooked);

        var first = result.Totals.Single(t => t.Key == FromStart);
        var second = result.Totals.Single(t => t.Key == FromFifteenth);
        Assert.Equal((110m, 105.00m), (first.QuantityAfter, first.AmountAfter));
        Assert.Equal((50m, 50m, 70.00m, 50.00m), (second.QuantityBefore, second.QuantityAfter, second.AmountBefore, second.AmountAfter));
        Assert.Null(second.LastWindowStart);
        Assert.Equal(5.00m, Assert.Single(result.Windows).Amount);
    }

    [Fact]
    public void Late_usage_of_a_closed_period_books_an_adjustment_per_segment_that_sum_to_the_window_charge()
    {
        // December closed with 80 GB at v1 (80.00) and 50 GB at v2 (70.00). 30 GB late for Dec 5: v1's segment books
        // 30 GB and 25.00 (105.00 - 80.00), v2's books no quantity and -20.00 (50.00 - 70.00): its 50 GB now sit higher in
        // the tiers. The window is charged the sum, 5.00, and January's statement shows both lines.
        var stored = new Dictionary<PeriodTotalKey, StoredPeriodTotal> { [FromStart] = Stored(80, 1, 80.00m, "v1"), [FromFifteenth] = Stored(50, 1, 70.00m, "v2") };
        var result = Rater.Rate(Rater.Plan([Window(December.AddDays(4), 30)], new HashSet<DateTimeOffset> { December }), stored, NothingBooked);

        Assert.Empty(result.Totals);
        var first = result.Adjustments.Single(a => a.Key == FromStart);
        var second = result.Adjustments.Single(a => a.Key == FromFifteenth);
        Assert.Equal((30m, 1L, 25.00m, January), (first.Quantity, first.Count, first.Amount, first.BookedIn));
        Assert.Equal((0m, 0L, -20.00m), (second.Quantity, second.Count, second.Amount));
        Assert.Equal(5.00m, Assert.Single(result.Windows).Amount);

        // A second late window goes on from what the first booked (stored + booked per segment).
        var booked = new Dictionary<PeriodTotalKey, BookedAdjustments> { [FromStart] = new(30, 1, 25.00m), [FromFifteenth] = new(0, 0, -20.00m) };
        var again = Rater.Rate(Rater.Plan([Window(December.AddDays(20), 10)], new HashSet<DateTimeOffset> { December }), stored, booked);
        // v2's 60 GB on top of 110: v2(170) - v2(110) = 270 - 210 = 60.00, up 10.00 from 50.00; v1 unchanged.
        var only = Assert.Single(again.Adjustments);
        Assert.Equal((FromFifteenth, 10m, 10.00m), (only.Key, only.Quantity, only.Amount));
    }

    [Fact]
    public void The_statement_shows_a_line_per_version_with_its_stretch_and_the_ledger_s_amounts()
    {
        var statement = StatementBuilder.Build(new StatementInput("acct-1", DecemberPeriod, new StatementTerms(December),
            [new SkuUsage(Egress, 50, 1, PriceFrom: Fifteenth), new SkuUsage(Egress, 110, 2)], [], Prices));

        var lines = statement.Usage.Where(u => u.Sku == Egress).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Equal((December, Fifteenth, "v1", 105.00m), (lines[0].PriceFrom!.Value, lines[0].PriceTo!.Value, lines[0].PriceBookVersion, lines[0].Amount));
        Assert.Equal((Fifteenth, January, "v2", 50.00m), (lines[1].PriceFrom!.Value, lines[1].PriceTo!.Value, lines[1].PriceBookVersion, lines[1].Amount));

        // The v2 line's tiers: only the second tier moves (100 GB of the first were used before it).
        var tier = Assert.Single(lines[1].Tiers);
        Assert.Equal((2, 50m, 50.00m), (tier.Tier, tier.Quantity, tier.Amount));
        Assert.Equal(155.00m, statement.Totals.Single().Total);

        // The segments round-trip through the canonical text with the same hash.
        var parsed = StatementParser.Parse(StatementHash.CanonicalText(statement));
        Assert.Equal(statement.ContentHash, parsed.ContentHash);
        Assert.Equal([December, Fifteenth], parsed.Usage.Select(u => u.PriceFrom!.Value));
    }

    [Fact]
    public void A_first_tier_flat_fee_is_charged_once_in_the_period_by_its_first_line()
    {
        var prices = new PriceCatalog(Book(firstTierFlatFee: "5"), []);

        // Both stretches used: v1(10) = 10 + 5; v2 on top of 10: v2(30) - v2(10) = (60 + 5) - (20 + 5) = 40.
        var both = StatementBuilder.Build(new StatementInput("acct-1", DecemberPeriod, new StatementTerms(December),
            [new SkuUsage(Egress, 10, 1), new SkuUsage(Egress, 20, 1, PriceFrom: Fifteenth)], [], prices));
        Assert.Equal([15.00m, 40.00m], both.Usage.Select(u => u.Amount));

        // Only the second stretch used: its line is the first, and takes v2's fee: v2(20) = 40 + 5.
        var late = StatementBuilder.Build(new StatementInput("acct-1", DecemberPeriod, new StatementTerms(December),
            [new SkuUsage(Egress, 20, 1, PriceFrom: Fifteenth)], [], prices));
        Assert.Equal(45.00m, Assert.Single(late.Usage).Amount);

        // The flush agrees with the statement: the same windows give the same amounts.
        var rater = new PeriodTotalsRater(prices);
        var result = rater.Rate(rater.Plan([Window(December.AddDays(1), 10), Window(Fifteenth.AddHours(1), 20)], new HashSet<DateTimeOffset>()), NothingStored, NothingBooked);
        Assert.Equal([15.00m, 40.00m], result.Totals.OrderBy(t => t.Key.PricedFrom).Select(t => t.AmountAfter));
    }

    [Fact]
    public void A_version_that_takes_effect_off_a_whole_utc_hour_is_refused_with_its_json_path()
    {
        var error = Assert.Throws<PriceBookException>(() => PriceBookLoader.Load("""
            { "id": "list", "currency": "USD", "versions": [
              { "version": "v1", "effective_from": "2026-12-15T10:30:00Z", "prices": { "egress.gb": { "model": "per_unit", "unit": "GB", "unit_price": "1" } } } ] }
            """u8, "list"));
        Assert.Contains("$.versions[0].effective_from: must be a whole UTC hour", error.Message, StringComparison.Ordinal);
    }
}
