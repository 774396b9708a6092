using Metering.Rating.PeriodTotals;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;

namespace Metering.UnitTests.Rating.PeriodTotals;

/// <summary>
/// Percentage prices rated per transaction in the streaming path (issue 15): each record is a transaction, rated in
/// the period's event-time order across flushes, with the stored transactions of the total (docs/pricebooks.md,
/// "Percentage prices"; worked examples hand-computed in each test).
/// </summary>
public sealed class PerTransactionRatingTests
{
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Fifteenth = new(2026, 11, 15, 0, 0, 0, TimeSpan.Zero);
    private static readonly Dictionary<PeriodTotalKey, BookedAdjustments> NothingBooked = [];

    // cards: 2.9 % + 0.30, min 0.50, max 25.00 (Stripe-like card fees); wires: 2 % + 0.30, the first 2 transactions free.
    private static readonly PriceBook List = PriceBookLoader.Load("""
        {
          "id": "list", "currency": "USD", "rounding": "half_up",
          "versions": [
            { "version": "nov", "effective_from": "2026-11-01T00:00:00Z", "effective_to": "2026-11-15T00:00:00Z",
              "prices": {
                "cards": { "model": "percentage", "unit": "USD", "rate": "2.9", "fixed_fee": "0.30", "per_transaction_min": "0.50", "per_transaction_max": "25.00" },
                "wires": { "model": "percentage", "unit": "USD", "rate": "2", "fixed_fee": "0.30", "free_transactions": 2 } } },
            { "version": "mid", "effective_from": "2026-11-15T00:00:00Z",
              "prices": {
                "cards": { "model": "percentage", "unit": "USD", "rate": "2.9", "fixed_fee": "0.30", "per_transaction_min": "0.50", "per_transaction_max": "25.00" },
                "wires": { "model": "percentage", "unit": "USD", "rate": "3", "fixed_fee": "0.30", "free_transactions": 2 } } }
          ]
        }
        """u8, "list");

    private static readonly PeriodTotalsRater Rater = new(new PriceCatalog(List, []));

    private static UsageTransaction At(DateTimeOffset time, ulong fingerprint, decimal amount) => UsageTransaction.FromTicks(time.UtcTicks, fingerprint, amount);

    private static UsageWindow Window(string sku, DateTimeOffset start, params UsageTransaction[] transactions) =>
        new("acct-a", sku, start, start.AddMinutes(1), transactions.Sum(t => t.Amount), transactions.Length, Transactions: transactions);

    private static PeriodTotalsResult Rate(IReadOnlyList<UsageWindow> windows, Dictionary<PeriodTotalKey, StoredPeriodTotal>? stored = null,
        Dictionary<PeriodTotalKey, IReadOnlyList<UsageTransaction>>? held = null) =>
        Rater.Rate(Rater.Plan(windows, new HashSet<DateTimeOffset>()), stored ?? [], NothingBooked, held ?? []);

    // What the ledger holds after a flush: the totals as stored, and every transaction so far.
    private static (Dictionary<PeriodTotalKey, StoredPeriodTotal>, Dictionary<PeriodTotalKey, IReadOnlyList<UsageTransaction>>) Held(PeriodTotalsResult result,
        Dictionary<PeriodTotalKey, IReadOnlyList<UsageTransaction>>? before = null)
    {
        var stored = result.Totals.ToDictionary(t => t.Key, t => new StoredPeriodTotal(t.QuantityAfter, t.CountAfter, t.AmountAfter, t.Currency, t.PriceBook, t.PriceBookVersion, t.PriceBookHash));
        var held = new Dictionary<PeriodTotalKey, IReadOnlyList<UsageTransaction>>(before ?? []);
        foreach (var group in result.Transactions.GroupBy(t => t.Key))
        {
            held[group.Key] = [.. held.GetValueOrDefault(group.Key) ?? [], .. group.Select(g => g.Transaction)];
        }

        return (stored, held);
    }

    [Fact]
    public void Each_record_of_a_price_with_per_transaction_bounds_is_clamped_on_its_own_and_the_sum_rounded_once()
    {
        // 5.00 → 0.145 + 0.30 = 0.445 → 0.50 (min); 100.00 → 3.20; 1000.00 → 29.30 → 25.00 (max): 28.70.
        // Rated from the window's total (1,105.00) it would be 32.345 + 0.90, neither clamp: the aggregate cannot do this.
        var result = Rate([Window("cards", November.AddHours(1), At(November.AddHours(1), 1, 5.00m), At(November.AddHours(1).AddSeconds(1), 2, 100.00m), At(November.AddHours(1).AddSeconds(2), 3, 1000.00m))]);

        var total = Assert.Single(result.Totals);
        Assert.Equal((1105.00m, 3L, 28.70m, "nov"), (total.QuantityAfter, total.CountAfter, total.AmountAfter, total.PriceBookVersion));
        Assert.Equal(28.70m, Assert.Single(result.Windows).Amount);
        Assert.Equal(3, result.Transactions.Count);
    }

    [Fact]
    public void A_period_split_into_flushes_charges_the_same_as_one_flush_and_the_window_charges_sum_to_the_total()
    {
        var first = Rate([Window("cards", November.AddHours(1), At(November.AddHours(1), 1, 5.00m))]);
        var (stored, held) = Held(first);
        var second = Rate([Window("cards", November.AddHours(2), At(November.AddHours(2), 2, 100.00m)), Window("cards", November.AddHours(3), At(November.AddHours(3), 3, 1000.00m))], stored, held);

        Assert.Equal(0.50m, first.Windows.Single().Amount);
        Assert.Equal([3.20m, 25.00m], second.Windows.Select(w => w.Amount));
        var total = Assert.Single(second.Totals);
        Assert.Equal((0.50m, 28.70m, 3L), (total.AmountBefore, total.AmountAfter, total.CountAfter));
        Assert.Equal(2, second.Transactions.Count); // only the new ones are stored
    }

    [Fact]
    public void Free_transactions_are_the_first_of_the_period_by_event_time_so_a_late_record_takes_the_free_place_and_re_prices_the_rest()
    {
        // Flush 1, 10:00 10.00, 11:00 20.00, 12:00 30.00: 10 and 20 free, 30 → 0.60 + 0.30 = 0.90.
        var first = Rate([Window("wires", November.AddHours(10), At(November.AddHours(10), 1, 10m)), Window("wires", November.AddHours(11), At(November.AddHours(11), 2, 20m)),
            Window("wires", November.AddHours(12), At(November.AddHours(12), 3, 30m))]);
        Assert.Equal(0.90m, first.Totals.Single().AmountAfter);

        // Flush 2, a record of 09:00 (40.00) arrives late: 40 and 10 are now the free ones; 20 → 0.70, 30 → 0.90 = 1.60.
        var (stored, held) = Held(first);
        var second = Rate([Window("wires", November.AddHours(9), At(November.AddHours(9), 4, 40m))], stored, held);

        var total = Assert.Single(second.Totals);
        Assert.Equal((0.90m, 1.60m, 100m), (total.AmountBefore, total.AmountAfter, total.QuantityAfter));
        Assert.Equal(0.70m, Assert.Single(second.Windows).Amount);
    }

    [Fact]
    public void Transactions_of_the_same_microsecond_are_ordered_by_fingerprint_whatever_order_they_come_in()
    {
        var t = November.AddHours(1);
        var forward = Rate([Window("wires", t, At(t, 1, 10m), At(t, 2, 20m), At(t, 3, 30m))]);
        var backward = Rate([Window("wires", t, At(t, 3, 30m), At(t, 2, 20m), At(t, 1, 10m))]);

        // Fingerprints 1 and 2 are the free ones: 30 → 0.90 both times.
        Assert.Equal(0.90m, forward.Totals.Single().AmountAfter);
        Assert.Equal(0.90m, backward.Totals.Single().AmountAfter);
    }

    [Fact]
    public void A_later_price_segment_goes_on_from_the_transactions_before_it()
    {
        // nov (2 %): Nov 2 10.00 is free #1. mid (3 % from Nov 15): Nov 16 20.00 is free #2, 30.00 → 0.90 + 0.30 = 1.20.
        var result = Rate([Window("wires", November.AddDays(1), At(November.AddDays(1), 1, 10m)),
            Window("wires", Fifteenth.AddDays(1), At(Fifteenth.AddDays(1), 2, 20m), At(Fifteenth.AddDays(1).AddSeconds(1), 3, 30m))]);

        Assert.Equal([(null, 0m, "nov"), (Fifteenth, 1.20m, "mid")], result.Totals.Select(t => (t.Key.PriceFrom, t.AmountAfter, t.PriceBookVersion)));
        Assert.Equal(1.20m, result.Windows.Sum(w => w.Amount));
    }

    [Fact]
    public void Usage_stored_before_transactions_were_kept_stays_unpriced_and_counts_before_the_new_transactions()
    {
        // 2 records (50.00) metered unpriced before this engine kept transactions: they hold the 2 free places.
        var key = new PeriodTotalKey("acct-a", "wires", November);
        var stored = new Dictionary<PeriodTotalKey, StoredPeriodTotal> { [key] = new(50m, 2, 0m, "XXX", "unpriced", "", "") };

        var result = Rate([Window("wires", November.AddHours(5), At(November.AddHours(5), 9, 100m))], stored);

        Assert.Equal((150m, 3L, 2.30m), (result.Totals.Single().QuantityAfter, result.Totals.Single().CountAfter, result.Totals.Single().AmountAfter));
    }

    [Fact]
    public void A_window_of_a_per_transaction_price_without_its_transactions_is_a_data_fault_naming_the_total()
    {
        var window = new UsageWindow("acct-a", "cards", November.AddHours(1), November.AddHours(1).AddMinutes(1), 105m, 2);

        var e = Assert.Throws<ArgumentException>(() => Rate([window]));

        Assert.Contains("acct-a/cards", e.Message, StringComparison.Ordinal);
        Assert.Contains("rated per transaction", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_statement_takes_the_engines_amount_for_a_per_transaction_price_only_when_the_same_version_rated_it()
    {
        var catalog = new PriceCatalog(List, []);
        var period = new Metering.Rating.Periods.BillingPeriod(November, November.AddMonths(1));
        var nov = List.Versions.Single(v => v.Version == "nov").Hash;
        Statement Build(SkuUsage u) => StatementBuilder.Build(new StatementInput("acct-a", period, new StatementTerms(November), [u], [], catalog));

        var same = Build(new SkuUsage("cards", 1105m, 3) { RatedAmount = 28.70m, RatedHash = nov }).Usage.Single();
        var other = Build(new SkuUsage("cards", 1105m, 3) { RatedAmount = 28.70m, RatedHash = "sha256:another" }).Usage.Single();
        var unknown = Build(new SkuUsage("cards", 1105m, 3)).Usage.Single();

        Assert.Equal((true, 28.70m), (same.Priced, same.Amount));
        Assert.Equal((false, UsageLine.TransactionsRequired), (other.Priced, other.UnpricedReason));
        Assert.Equal((false, UsageLine.TransactionsRequired), (unknown.Priced, unknown.UnpricedReason));
    }

    [Fact]
    public void Late_usage_keeps_its_booked_amount_through_a_rebuild_but_a_correction_of_the_line_makes_it_unknown()
    {
        var period = new Metering.Rating.Periods.BillingPeriod(November, November.AddMonths(1));
        var lines = StatementRevision.Combine([new SkuUsage("cards", 100m, 1) { RatedAmount = 3.20m, RatedHash = "h" }], [new SkuUsage("cards", 5m, 1) { RatedAmount = 0.50m }], "acct-a", period);
        var corrected = StatementRevision.Combine([new SkuUsage("cards", 100m, 1) { RatedAmount = 3.20m, RatedHash = "h" }], [new SkuUsage("cards", -5m, 0)], "acct-a", period);

        Assert.Equal((105m, 2L, (decimal?)3.70m, "h"), (lines.Single().Quantity, lines.Single().RecordCount, lines.Single().RatedAmount, lines.Single().RatedHash));
        Assert.Null(corrected.Single().RatedAmount);
    }
}
