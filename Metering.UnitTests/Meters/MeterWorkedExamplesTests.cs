using System.Text;
using Metering.Aggregates.Meters;
using Metering.Rating.Meters;
using Metering.Rating.Pricing;

namespace Metering.UnitTests.Meters;

/// <summary>Hand-computed examples of every meter (docs/meters.md has the same numbers): November 2026, a 30-day period of 720 hours.</summary>
public class MeterWorkedExamplesTests
{
    private static readonly DateTime Nov1 = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly long Start = Nov1.Ticks;
    private static readonly long End = Nov1.AddMonths(1).Ticks;

    private static long At(double days) => Nov1.AddDays(days).Ticks;

    private static long Units(decimal units) => (long)(units * 1_000_000_000m);

    private static byte[] Id(string id) => Encoding.UTF8.GetBytes(id);

    [Fact]
    public void Count_max_and_min_of_2_7point5_and_3_are_3_7point5_and_2()
    {
        var s = ExtremaState.Empty;
        foreach (var q in new[] { 2m, 7.5m, 3m })
        {
            s.Add(Units(q));
        }

        Assert.Equal(3m, MeterRules.Count(s.Count).Quantity);
        Assert.Equal(7.5m, MeterRules.Extremum(s.Count, s.MaxNanos).Quantity);
        Assert.Equal(2m, MeterRules.Extremum(s.Count, s.MinNanos).Quantity);
    }

    [Fact]
    public void An_empty_period_has_a_count_max_min_and_latest_of_0()
    {
        var s = ExtremaState.Empty;
        Assert.Equal(0m, MeterRules.Count(s.Count).Quantity);
        Assert.Equal(0m, MeterRules.Extremum(s.Count, s.MaxNanos).Quantity);
        var latest = default(LatestState);
        Assert.Equal(0m, MeterRules.Latest(latest.HasValue, latest.ValueNanos).Quantity);
    }

    [Fact]
    public void Latest_is_the_greatest_time_and_on_a_tie_the_greater_id_whatever_the_order()
    {
        // (Nov 1 10:00, "b", 5), (Nov 1 10:05, "a", 8), (Nov 1 10:05, "c", 4): 10:05 twice, "c" > "a": 4.
        var records = new (long T, string Id, decimal Q)[] { (At(10 / 24.0), "b", 5), (At(10 / 24.0 + 5 / 1440.0), "a", 8), (At(10 / 24.0 + 5 / 1440.0), "c", 4) };
        foreach (var order in new[] { new[] { 0, 1, 2 }, new[] { 2, 1, 0 }, new[] { 1, 2, 0 } })
        {
            var s = default(LatestState);
            foreach (var i in order)
            {
                s.Add(records[i].T, Id(records[i].Id), Units(records[i].Q));
            }

            Assert.Equal(4m, MeterRules.Latest(s.HasValue, s.ValueNanos).Quantity);
            Assert.Equal("c", Encoding.UTF8.GetString(s.EventId));
        }
    }

    [Fact]
    public void Latest_ties_compare_ids_as_utf8_bytes_so_a_longer_id_with_the_same_prefix_wins()
    {
        var s = default(LatestState);
        s.Add(Start, Id("evt-10"), Units(1));
        s.Add(Start, Id("evt-1"), Units(2)); // a prefix is smaller
        s.Add(Start, Id("evt-09"), Units(3)); // '0' < '1'
        Assert.Equal(1m, MeterRules.Latest(s.HasValue, s.ValueNanos).Quantity);
    }

    [Fact]
    public void Unique_count_of_u1_u2_u1_u3_is_3_and_a_missing_dimension_is_no_value()
    {
        var meter = new MeterDefinition { Aggregation = MeterAggregation.UniqueCount, Field = "dimensions.user_id", DimensionKey = "user_id", MaxDistinct = 100 };
        var s = new UniqueCountState(meter.MaxDistinct);
        foreach (var v in new[] { "u1", "u2", "u1", "u3" })
        {
            s.Add(UniqueCountState.Fingerprint(Id(v)));
        }

        s.AddMissingField();
        Assert.Equal(3m, MeterRules.UniqueCount(meter, s.Count, s.IsOverBound).Quantity);
        Assert.Equal(1, s.MissingField);
    }

    [Fact]
    public void Unique_count_past_max_distinct_is_unpriced_over_bound_never_an_approximation()
    {
        var meter = new MeterDefinition { Aggregation = MeterAggregation.UniqueCount, Field = "dimensions.user_id", DimensionKey = "user_id", MaxDistinct = 2 };
        var s = new UniqueCountState(meter.MaxDistinct);
        foreach (var v in new[] { "u1", "u2", "u1" })
        {
            s.Add(UniqueCountState.Fingerprint(Id(v)));
        }

        Assert.Equal(2m, MeterRules.UniqueCount(meter, s.Count, s.IsOverBound).Quantity); // at the bound: still exact
        s.Add(UniqueCountState.Fingerprint(Id("u3")));
        var q = MeterRules.UniqueCount(meter, s.Count, s.IsOverBound);
        Assert.False(q.IsPriced);
        Assert.Equal((0m, MeterQuantity.OverBoundReason), (q.Quantity, q.UnpricedReason));
        Assert.StartsWith("more than 2 distinct values of dimensions.user_id in the period", q.Detail, StringComparison.Ordinal);
    }

    private static readonly MeterDefinition GbHours = new() { Aggregation = MeterAggregation.TimeWeighted, UnitOfTime = TimeSpan.FromHours(1), MaxReadings = 1000 };

    [Fact]
    public void Time_weighted_10_GB_for_240_h_then_20_GB_for_252_h_then_0_is_7440_GB_hours_in_any_arrival_order()
    {
        // Nov 1 00:00 10 GB; Nov 11 00:00 20 GB; Nov 21 12:00 0 GB: 10 x 240 + 20 x 252 + 0 x 228 = 7,440 GB-hours.
        var readings = new (long T, decimal Gb)[] { (At(0), 10), (At(10), 20), (At(20.5), 0) };
        foreach (var order in new[] { new[] { 0, 1, 2 }, new[] { 2, 0, 1 } })
        {
            var s = new TimeWeightedState(GbHours.MaxReadings);
            foreach (var i in order)
            {
                s.Add(readings[i].T, Units(readings[i].Gb));
            }

            Assert.Equal(7440m, TimeWeightedRule.Quantity(GbHours, s.Times, s.Levels, s.IsOverBound, Start, End, End).Quantity);
        }
    }

    [Fact]
    public void Time_weighted_level_is_0_before_the_first_reading_and_holds_until_the_period_end()
    {
        // One reading, Nov 2 00:00, 10 GB: nothing before it, 10 GB for the remaining 696 hours: 6,960 GB-hours.
        var s = new TimeWeightedState(GbHours.MaxReadings);
        s.Add(At(1), Units(10));
        Assert.Equal(6960m, TimeWeightedRule.Quantity(GbHours, s.Times, s.Levels, false, Start, End, End).Quantity);
    }

    [Fact]
    public void Time_weighted_of_an_open_period_holds_the_last_level_until_as_of()
    {
        // As of Nov 15 00:00: 10 GB x 240 h + 20 GB x 96 h = 4,320 GB-hours.
        var s = new TimeWeightedState(GbHours.MaxReadings);
        s.Add(At(0), Units(10));
        s.Add(At(10), Units(20));
        Assert.Equal(4320m, TimeWeightedRule.Quantity(GbHours, s.Times, s.Levels, false, Start, End, At(14)).Quantity);
    }

    [Fact]
    public void Time_weighted_truncates_at_9_fractional_digits_1_GB_for_1_second_is_0point000277777_GB_hours()
    {
        var s = new TimeWeightedState(GbHours.MaxReadings);
        s.Add(At(3), Units(1));
        s.Add(At(3) + TimeSpan.TicksPerSecond, 0);
        Assert.Equal(0.000277777m, TimeWeightedRule.Quantity(GbHours, s.Times, s.Levels, false, Start, End, End).Quantity); // 1/3600 = 0.000277777|78
    }

    [Fact]
    public void Time_weighted_readings_at_one_instant_keep_the_higher_level()
    {
        var s = new TimeWeightedState(GbHours.MaxReadings);
        s.Add(At(0), Units(5));
        s.Add(At(0), Units(7));
        s.Add(At(0), Units(6));
        Assert.Equal(7m * 720, TimeWeightedRule.Quantity(GbHours, s.Times, s.Levels, false, Start, End, End).Quantity);
    }

    [Fact]
    public void Time_weighted_past_max_readings_is_unpriced_over_bound()
    {
        var meter = GbHours with { MaxReadings = 2 };
        var s = new TimeWeightedState(meter.MaxReadings);
        s.Add(At(0), 1);
        s.Add(At(1), 1);
        s.Add(At(1), 2); // the same instant: still two readings
        Assert.False(s.IsOverBound);
        s.Add(At(2), 1);
        Assert.Equal(MeterQuantity.OverBoundReason, TimeWeightedRule.Quantity(meter, s.Times, s.Levels, s.IsOverBound, Start, End, End).UnpricedReason);
    }

    private static readonly MeterDefinition P95 = new() { Aggregation = MeterAggregation.Percentile, Percentile = 95, Bucket = TimeSpan.FromMinutes(5) };

    [Fact]
    public void A_30_day_month_has_8640_buckets_of_5_minutes_and_p95_bills_the_433rd_highest()
    {
        Assert.Equal(8640, BurstableRule.BucketCount(Start, End, TimeSpan.TicksPerMinute * 5));
        Assert.Equal(433, BurstableRule.BilledRank(8640, 95)); // 432 = 5 % of 8,640 discarded
        Assert.Equal(1, BurstableRule.BilledRank(10, 95)); // 0.5 bucket discarded: floor, none
        Assert.Equal(2, BurstableRule.BilledRank(20, 95)); // exactly one discarded
        Assert.Equal(51, BurstableRule.BilledRank(100, 50));
    }

    [Fact]
    public void P95_of_500_busy_buckets_of_1_to_500_MB_in_a_month_bills_68_MB_as_226666point666666666_bytes_per_second()
    {
        // Buckets 1..500 MB, 8,140 empty ones count as 0: the 433rd highest is 500 - 432 = 68 MB.
        var s = new PercentileState(P95.Bucket.Ticks, MeterDefinition.MaxBuckets);
        for (var k = 500; k >= 1; k--)
        {
            s.Add(Start + ((k - 1) * P95.Bucket.Ticks) + 17, k * 1_000_000L * 1_000_000_000L); // k MB in bucket k-1, bytes as units
        }

        Assert.Equal(68_000_000m, BurstableRule.Quantity(P95, s.Indexes, s.Sums, s.IsOverBound, Start, End, End).Quantity);
        // 68,000,000 bytes / 300 s = 226,666.666666666|67 bytes/s, truncated at 9 digits.
        var rate = P95 with { RatePer = TimeSpan.FromSeconds(1) };
        var q = BurstableRule.Quantity(rate, s.Indexes, s.Sums, s.IsOverBound, Start, End, End).Quantity;
        Assert.Equal(226666.666666666m, q);

        // Rated as Mbit/s at 0.50: divide_by 125,000 (8 bits / 10^6) = 1.813333333333328 Mbit/s x 0.50 = 0.906666666666664 (0.91 on the line).
        var price = new SkuPrice("transit", PricingModel.PerUnit, "Mbit/s", unitPrice: 0.50m, divideBy: 125_000m);
        Assert.Equal(0.906666666666664m, price.Amount(q));
    }

    [Fact]
    public void P95_is_0_when_at_most_5_percent_of_the_buckets_carry_traffic()
    {
        // 432 busy buckets (36 hours of bursts) in 8,640: all discarded, the 433rd highest is an empty bucket.
        var s = new PercentileState(P95.Bucket.Ticks, MeterDefinition.MaxBuckets);
        for (var k = 0; k < 432; k++)
        {
            s.Add(Start + (k * 20 * P95.Bucket.Ticks), 1_000_000_000L);
        }

        Assert.Equal(0m, BurstableRule.Quantity(P95, s.Indexes, s.Sums, false, Start, End, End).Quantity);
        s.Add(End - 1, 1); // a 433rd busy bucket, 1 nano-unit
        Assert.Equal(0.000000001m, BurstableRule.Quantity(P95, s.Indexes, s.Sums, false, Start, End, End).Quantity);
    }

    [Fact]
    public void P95_of_an_open_period_ranks_the_buckets_until_as_of()
    {
        // As of Nov 1 01:40: 20 buckets, one discarded: the 2nd highest of 3, 9, 4 (and 17 empty) is 4.
        var s = new PercentileState(P95.Bucket.Ticks, MeterDefinition.MaxBuckets);
        s.Add(Start, Units(3));
        s.Add(Start + P95.Bucket.Ticks, Units(9));
        s.Add(Start + (2 * P95.Bucket.Ticks), Units(4));
        var asOf = Start + (20 * P95.Bucket.Ticks);
        Assert.Equal(4m, BurstableRule.Quantity(P95, s.Indexes, s.Sums, false, Start, End, asOf).Quantity);
        Assert.Equal(9m, BurstableRule.Quantity(P95, s.Indexes, s.Sums, false, Start, End, Start + (10 * P95.Bucket.Ticks)).Quantity); // 10 buckets: none discarded
    }

    [Fact]
    public void A_correction_moves_one_buckets_sum_and_never_below_zero()
    {
        var s = new PercentileState(P95.Bucket.Ticks, MeterDefinition.MaxBuckets);
        s.Add(Start, Units(3));
        s.Add(Start + 1, Units(2));
        Assert.True(s.Correct(Start + 2, -Units(2))); // a void of the 2-unit record
        Assert.Equal(Units(3), (long)s.Sums[0]);
        Assert.False(s.Correct(Start, -Units(4)));
        Assert.Equal(Units(3), (long)s.Sums[0]);
    }

    [Theory]
    [InlineData(MeterAggregation.Sum, true)]
    [InlineData(MeterAggregation.Count, true)]
    [InlineData(MeterAggregation.Percentile, true)]
    [InlineData(MeterAggregation.Max, false)]
    [InlineData(MeterAggregation.Min, false)]
    [InlineData(MeterAggregation.Latest, false)]
    [InlineData(MeterAggregation.UniqueCount, false)]
    [InlineData(MeterAggregation.TimeWeighted, false)]
    public void Only_meters_whose_state_can_undo_one_event_take_voids_and_amends(MeterAggregation aggregation, bool correctable) =>
        Assert.Equal(correctable, new MeterDefinition { Aggregation = aggregation }.SupportsEventCorrections);

    [Fact]
    public void Every_pricing_model_rates_a_meters_quantity_like_a_sum()
    {
        // A peak of 7.5 units: graduated (5 x 1.00 + 2.5 x 0.50 = 6.25), volume (7.5 x 0.50 = 3.75), package of 5 (2 x 2.00).
        var s = ExtremaState.Empty;
        s.Add(Units(2));
        s.Add(Units(7.5m));
        var peak = MeterRules.Extremum(s.Count, s.MaxNanos).Quantity;
        PriceTier[] tiers = [new(5, 1.00m, 0, null), new(null, 0.50m, 0, null)];
        Assert.Equal(6.25m, new SkuPrice("s", PricingModel.Graduated, "u", tiers: tiers).Amount(peak));
        Assert.Equal(3.75m, new SkuPrice("s", PricingModel.Volume, "u", tiers: tiers).Amount(peak));
        Assert.Equal(4.00m, new SkuPrice("s", PricingModel.Package, "u", packageSize: 5, packagePrice: 2.00m).Amount(peak));
        Assert.Equal(0.15m, new SkuPrice("s", PricingModel.Percentage, "u", percentageRate: 2).Amount(peak));
    }
}
