using Metering.Rating.Incremental;
using Metering.Rating.Money;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Pricing;

namespace Metering.Rating.PeriodTotals;

/// <summary>
/// The ledger's billing policy for one flush, without the database. Each window books into the billing period its
/// start falls in (and, for a price with <c>group_by</c>, into the total of its dimension group, <see cref="DimensionGroup"/>): the account's own periods when it has a rule of its own, else the list book's (calendar months
/// without one), see <see cref="AccountPeriods"/>. A window of a <b>closed</b> period is late
/// usage: it is rated on top of that period's frozen total plus the adjustments already booked for it (so tiers go on
/// where they stopped) and becomes an adjustment line in the next open period; the closed total never changes. A window
/// is rated incrementally against its total's cumulative state (<see cref="WindowRater"/>) with the price effective at
/// its start: a version taking effect inside the period starts a segment of its own, priced on top of the period's
/// quantity before it (<see cref="SegmentedPricing"/>, <see cref="PriceCatalog.Segments"/>); a price rated per transaction rates the windows' single records in the period's order (<see cref="UsageTransaction"/>); unpriced usage is metered exactly with a
/// charge of 0 and keeps the total's lineage (<c>unpriced</c> for a new total). Thread-safe: holds no state of a flush.
/// </summary>
public sealed class PeriodTotalsRater
{
    private readonly PriceCatalog? _prices;

    /// <summary>A rater pricing with <paramref name="prices"/> (null: everything unpriced, calendar months).</summary>
    public PeriodTotalsRater(PriceCatalog? prices)
    {
        _prices = prices;
        Periods = prices?.List?.Periods ?? BillingPeriodRule.CalendarMonth;
    }

    /// <summary>How time is cut into billing periods.</summary>
    public BillingPeriodRule Periods { get; }

    /// <summary>
    /// Puts <paramref name="windows"/> in time order and finds the totals they touch: each window books into its
    /// account's period (<paramref name="periods"/>), and a total whose period is closed books into the account's
    /// first period after it that is not closed.
    /// </summary>
    public PeriodTotalsPlan Plan(IReadOnlyList<UsageWindow> windows, AccountPeriods periods)
    {
        ArgumentNullException.ThrowIfNull(windows);
        ArgumentNullException.ThrowIfNull(periods);

        // Time order, so each total is rated window after window; OrderBy is stable, ties keep the input order.
        var order = Enumerable.Range(0, windows.Count).OrderBy(i => windows[i].Start).ToArray();
        var totalOf = new int[order.Length];
        var index = new Dictionary<PeriodTotalKey, int>();
        var totals = new List<TouchedTotal>();
        // The price segments of an (account, SKU, period), whatever the group: resolved once per flush, not per window.
        var resolved = new Dictionary<PeriodTotalKey, IReadOnlyList<PriceSegment>>();
        var families = new Dictionary<PeriodTotalKey, int>();
        for (var j = 0; j < order.Length; j++)
        {
            var w = windows[order[j]];
            var period = periods.PeriodOf(w.Account, w.Start);
            var sku = new PeriodTotalKey(w.Account, w.Sku, period.Start);
            if (!resolved.TryGetValue(sku, out var segments))
            {
                segments = _prices?.Segments(w.Account, w.Sku, period) ?? [new PriceSegment(period.Start, default)];
                resolved.Add(sku, segments);
            }

            // The price the period starts with (or the first one inside it, when none is effective at its start) says
            // whether the SKU's usage splits into dimension groups, for the whole period.
            var groupBy = segments.FirstOrDefault(s => s.Resolution.Price is not null).Resolution.Price?.GroupBy ?? [];
            var family = groupBy.Count == 0 ? sku : sku with { Group = DimensionGroup.Of(groupBy, w.Dimensions) };
            var segment = SegmentOf(segments, w.Start);
            var key = segment == 0 ? family : family with { PriceFrom = segments[segment].From };
            if (!index.TryGetValue(key, out var t))
            {
                var bookedIn = periods.IsClosed(w.Account, period.Start) ? periods.NextOpen(w.Account, period).Start : (DateTimeOffset?)null;
                // A metered SKU (a meter other than sum) forms no family: a max or a p95 of the records before a
                // version change says nothing about the quantity after it, so each version's range is metered and
                // priced on its own (docs/meters.md, "Versions inside a period").
                var metered = segments.Any(s => s.Resolution.Price is { Meter.IsSum: false });
                if (segments.Count > 1 && !metered && !families.ContainsKey(family))
                {
                    // Every segment of a family is loaded and re-rated with it: usage in an earlier segment moves the
                    // quantity the later ones are priced on top of (SegmentedPricing).
                    families.Add(family, families.Count);
                    for (var s = 0; s < segments.Count; s++)
                    {
                        var part = s == 0 ? family : family with { PriceFrom = segments[s].From };
                        index.Add(part, totals.Count);
                        totals.Add(new TouchedTotal(part, period, bookedIn) { Resolution = _prices is null ? null : segments[s].Resolution, Family = families[family], Segment = s, IsPart = true });
                    }

                    t = index[key];
                }
                else
                {
                    t = totals.Count;
                    index.Add(key, t);
                    totals.Add(new TouchedTotal(key, period, bookedIn)
                    {
                        Resolution = _prices is null ? null : segments[segment].Resolution,
                        IsPart = family.Group.Length > 0 || segments.Count > 1,
                        RangeEnd = segment + 1 < segments.Count ? segments[segment + 1].From : period.End,
                    });
                }
            }

            totalOf[j] = t;
        }

        return new PeriodTotalsPlan(windows, order, totalOf, totals);
    }

    // The segment a window starting at start belongs to: the last one starting at or before it.
    private static int SegmentOf(IReadOnlyList<PriceSegment> segments, DateTimeOffset start)
    {
        var s = segments.Count - 1;
        while (s > 0 && segments[s].From > start)
        {
            s--;
        }

        return s;
    }

    /// <summary>As <see cref="Plan(IReadOnlyList{UsageWindow}, AccountPeriods)"/> with every account on the list book's periods, closed at <paramref name="closedPeriodStarts"/>.</summary>
    public PeriodTotalsPlan Plan(IReadOnlyList<UsageWindow> windows, IReadOnlySet<DateTimeOffset> closedPeriodStarts) =>
        Plan(windows, new AccountPeriods(Periods, closedPeriodStarts));

    /// <summary>
    /// Rates the plan's windows on <paramref name="stored"/> (the ledger's totals of <see cref="PeriodTotalsPlan.Totals"/>;
    /// a missing key is a new total) and, for late totals, <paramref name="booked"/> (their adjustments so far).
    /// Throws <see cref="OverflowException"/> when a total's quantity or amount would leave <see cref="LedgerDecimal"/>'s range.
    /// </summary>
    /// <remarks>
    /// A total rated per transaction (<see cref="PeriodTotalsPlan.TransactionKeys"/>) is rated on
    /// <paramref name="transactions"/>, its stored transactions (any order; missing: none), together with the windows'
    /// own (<see cref="UsageWindow.Transactions"/>, which must be there): each transaction's fee depends on the ones
    /// before it in the period (free transactions, a free amount), so the total's amount is the sum over all of them in
    /// order, rounded once, and a window's charge is how much that moved. A window whose transactions come after every
    /// one the total holds (the usual case) adds its fees; an earlier one (late usage) re-rates the total's transactions.
    /// </remarks>
    /// <remarks>
    /// A metered total (<see cref="TouchedTotal.Meter"/>) is rated on <paramref name="meters"/>: the quantity its meter
    /// makes of its state after this flush (the ledger merges the stored state with the flush's records). Its amount is
    /// round(price(that quantity)) and the charge is how much that moved, booked on the total's last window of the
    /// flush (its other windows charge 0); an unpriced meter quantity (past its bound) is amount 0. The charges still
    /// telescope to round(price(final quantity)), whatever the split into flushes.
    /// </remarks>
    public PeriodTotalsResult Rate(PeriodTotalsPlan plan, IReadOnlyDictionary<PeriodTotalKey, StoredPeriodTotal> stored, IReadOnlyDictionary<PeriodTotalKey, BookedAdjustments> booked,
        IReadOnlyDictionary<PeriodTotalKey, IReadOnlyList<UsageTransaction>>? transactions = null, IReadOnlyDictionary<PeriodTotalKey, Meters.MeterQuantity>? meters = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(stored);
        ArgumentNullException.ThrowIfNull(booked);
        var totals = new TotalAccumulator[plan.Totals.Count];
        var families = new List<List<TotalAccumulator>>();
        for (var t = 0; t < totals.Length; t++)
        {
            totals[t] = Start(plan.Totals[t], stored, booked, transactions);
            if (plan.Totals[t].Family is var f and >= 0)
            {
                while (families.Count <= f)
                {
                    families.Add([]);
                }

                families[f].Add(totals[t]); // the plan adds a family's segments together, in time order
            }
        }

        var lastWindow = new int[totals.Length];
        for (var j = 0; j < plan.Order.Length; j++)
        {
            lastWindow[plan.TotalOf[j]] = j;
        }

        var charges = new WindowCharge[plan.Order.Length];
        for (var j = 0; j < plan.Order.Length; j++)
        {
            var w = plan.Windows[plan.Order[j]];
            var total = totals[plan.TotalOf[j]];
            var period = total.Touched.Period;
            decimal charge = 0;
            if (total.Touched.Family >= 0)
            {
                charge = RateInFamily(families[total.Touched.Family], total, w);
            }
            else if (total.Touched.Meter is not null)
            {
                total.State.Quantity += w.Quantity; // the raw sum stays the total's quantity (conservation)
                total.State.Transactions += w.Count;
                if (j == lastWindow[plan.TotalOf[j]])
                {
                    charge = RateMeter(total, meters);
                }
            }
            else if (total.Touched.RatedPerTransaction)
            {
                var priced = total.Touched.Resolution!.Value;
                charge = RatePerTransaction(total, priced, w);
                Stamp(total, priced);
            }
            else if (total.Touched.Resolution is { IsPriced: true } priced && !priced.Price!.NeedsTransactions)
            {
                var book = priced.Book!;
                charge = WindowRater.RateWindow(priced.Price, ref total.State, w.Quantity, w.Count, priced.Currency!.MinorUnits, book.Rounding);
                Stamp(total, priced);
            }
            else
            {
                // Unpriced usage is still metered exactly; its amount stays 0 and the total says so (price_book = unpriced).
                total.State.Quantity += w.Quantity;
                total.State.Transactions += w.Count;
            }

            total.Count += w.Count;
            total.HadWindows = true;
            total.LastWindowStart = w.Start > total.LastWindowStart ? w.Start : total.LastWindowStart;
            if (total.Touched.IsLate)
            {
                total.LateQuantity += w.Quantity;
                total.LateCount += w.Count;
                if (total.Touched.Family < 0)
                {
                    total.LateAmount += charge; // a family's segments book their own share (RateInFamily)
                }

                total.FirstWindow = w.Start < total.FirstWindow ? w.Start : total.FirstWindow;
                total.LastWindowEnd = w.End > total.LastWindowEnd ? w.End : total.LastWindowEnd;
            }

            charges[j] = new WindowCharge(plan.Order[j], period.Start, charge, total.Currency, total.Hash);
        }

        // A total outside the ledger's range could be stored (numeric(38,9) holds 10^29) but not always read back into a
        // decimal, and then every later flush of its key would fail: refuse it here, as a data fault, so isolation
        // dead-letters the records that push it over (docs/ledger.md).
        foreach (var total in totals)
        {
            if (!LedgerDecimal.FitsMagnitude(total.State.Quantity) || !LedgerDecimal.FitsMagnitude(total.State.Charged))
            {
                var key = total.Touched.Key;
                throw new OverflowException($"{key.Account}/{key.Sku} period {key.PeriodStart:yyyy-MM-dd}: quantity {total.State.Quantity} or amount {total.State.Charged} would leave the ledger's range ({LedgerDecimal.RangeText})");
            }
        }

        var updates = new List<PeriodTotalUpdate>(totals.Length);
        var adjustments = new List<LateAdjustment>();
        foreach (var total in totals)
        {
            var touched = total.Touched;
            if (!total.HadWindows && (touched.IsLate ? total.LateAmount == 0 : total.State.Charged == total.AmountBefore))
            {
                continue; // a segment loaded with its family that neither got usage nor changed price
            }

            if (touched.BookedIn is { } bookedIn)
            {
                adjustments.Add(new LateAdjustment(touched.Key, touched.Period, bookedIn, total.LateQuantity, total.LateCount, total.LateAmount,
                    total.Currency, total.Hash, total.HadWindows ? total.FirstWindow : touched.Key.PricedFrom, total.HadWindows ? total.LastWindowEnd : touched.Key.PricedFrom));
            }
            else
            {
                updates.Add(new PeriodTotalUpdate(touched.Key, touched.Period.End, total.QuantityBefore, total.State.Quantity, total.CountBefore, total.Count,
                    total.AmountBefore, total.State.Charged, total.Currency, total.Book, total.Version, total.Hash) { IsPart = touched.IsPart, LastWindowStart = total.HadWindows ? total.LastWindowStart : null });
            }
        }

        var added = new List<(PeriodTotalKey, UsageTransaction)>();
        foreach (var total in totals)
        {
            foreach (var t in total.AddedTransactions ?? [])
            {
                added.Add((total.Touched.Key, t));
            }
        }

        return new PeriodTotalsResult(updates, adjustments, charges, added);
    }

    /// <summary>
    /// The charge of a metered total in this flush: round(price(meter quantity after)) less what it charged so far
    /// (for late usage: the closed total plus its adjustments). The record count is the price's transaction count.
    /// </summary>
    private static decimal RateMeter(TotalAccumulator total, IReadOnlyDictionary<PeriodTotalKey, Meters.MeterQuantity>? meters)
    {
        var key = total.Touched.Key;
        if (meters is null || !meters.TryGetValue(key, out var quantity))
        {
            throw new InvalidOperationException($"{key.Account}/{key.Sku} period {key.PeriodStart:yyyy-MM-dd}: a metered total ({total.Touched.Meter!.AggregationName}) was rated without its meter quantity");
        }

        var priced = total.Touched.Resolution!.Value;
        var amount = quantity.IsPriced
            ? Rounding.Round(priced.Price!.Amount(quantity.Quantity, total.State.Transactions), priced.Currency!.MinorUnits, priced.Book!.Rounding)
            : 0m;
        var charge = amount - total.State.Charged;
        total.State.Charged = amount;
        Stamp(total, priced);
        return charge;
    }

    /// <summary>
    /// Rates window <paramref name="w"/> of a total rated per transaction (not a segment of a family); returns its charge.
    /// Transactions after every one the total holds (the usual case) are rated one after another on the total's state
    /// (<see cref="WindowRater.RateTransaction"/>); an earlier one (late usage) re-rates all of the total's transactions.
    /// </summary>
    private static decimal RatePerTransaction(TotalAccumulator total, PriceResolution priced, in UsageWindow w)
    {
        var price = priced.Price!;
        var (minorUnits, rounding) = (priced.Currency!.MinorUnits, priced.Book!.Rounding);
        var fresh = AddTransactions(total, w, out var appended);
        if (appended)
        {
            decimal charge = 0;
            foreach (var t in fresh)
            {
                charge += WindowRater.RateTransaction(price, ref total.State, t.Amount, minorUnits, rounding);
            }

            return charge;
        }

        total.State.Quantity += w.Quantity;
        total.State.Transactions += w.Count;
        total.State.TransactionFees = TransactionFees(price, total.Transactions!, total.UntrackedQuantity, total.UntrackedCount);
        var rounded = Rounding.Round(total.State.TransactionFees, minorUnits, rounding);
        var moved = rounded - total.State.Charged;
        total.State.Charged = rounded;
        return moved;
    }

    /// <summary>
    /// Puts window <paramref name="w"/>'s transactions into its total's, in order, and returns them sorted;
    /// <paramref name="appended"/> says whether they all come after every transaction the total held. Leaves the
    /// state to the caller. Throws <see cref="ArgumentException"/> (a data fault) when the window came without them.
    /// </summary>
    private static List<UsageTransaction> AddTransactions(TotalAccumulator total, in UsageWindow w, out bool appended)
    {
        var key = total.Touched.Key;
        if (w.Transactions is not { } fresh || fresh.Count != w.Count || fresh.Sum(t => t.Amount) != w.Quantity)
        {
            // The engine keeps single records only for SKUs a price it knew of rates per transaction; a window of
            // records taken in before it learnt of such a price has none. A data fault: the flush is isolated, the
            // records are read again from Kafka, and kept this time (the flush that failed loaded the new price).
            throw new ArgumentException($"{key.Account}/{key.Sku} window {w.Start:yyyy-MM-dd'T'HH:mm'Z'}: its price is rated per transaction, and the window's {w.Count} records " +
                $"came with {(w.Transactions is null ? "no" : w.Transactions.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))} single transactions (taken in before the price was known to the engine: they are read again)");
        }

        var sorted = fresh.Order().ToList();
        var list = total.Transactions ??= [];
        (total.AddedTransactions ??= []).AddRange(sorted);
        total.Exists = true;
        appended = list.Count == 0 || sorted.Count == 0 || list[^1].CompareTo(sorted[0]) < 0;
        list.AddRange(sorted);
        if (!appended)
        {
            list.Sort();
        }

        return sorted;
    }

    /// <summary>
    /// The exact fee of <paramref name="ordered"/> transactions rated one after another, after
    /// <paramref name="amountBefore"/> and <paramref name="countBefore"/> of the period (lines before, untracked usage).
    /// </summary>
    private static decimal TransactionFees(Pricing.SkuPrice price, List<UsageTransaction> ordered, decimal amountBefore, long countBefore)
    {
        decimal fees = 0;
        foreach (var t in ordered)
        {
            fees += price.TransactionFee(t.Amount, amountBefore, countBefore);
            amountBefore += t.Amount;
            countBefore++;
        }

        return fees;
    }

    /// <summary>
    /// Adds a window to one segment of a family and re-rates every segment on the cumulative quantity before it
    /// (<see cref="SegmentedPricing"/>); returns the window's charge: how much the family's rounded amounts moved.
    /// Each segment keeps its own rounded amount (and, for late usage, books its own share of the move), so the
    /// window charges of a period still sum to the amounts of its lines.
    /// </summary>
    private static decimal RateInFamily(List<TotalAccumulator> family, TotalAccumulator total, in UsageWindow w)
    {
        if (total.Touched.RatedPerTransaction)
        {
            _ = AddTransactions(total, w, out _); // every segment's fees are summed again below
        }

        total.State.Quantity += w.Quantity;
        total.State.Transactions += w.Count;
        total.Exists = true;
        decimal moved = 0, before = 0;
        long countBefore = 0;
        var first = true;
        foreach (var segment in family)
        {
            if (!segment.Exists)
            {
                continue; // no line: it neither starts the carry nor is priced
            }

            decimal amount = 0;
            if (segment.Touched.RatedPerTransaction)
            {
                // Its transactions go on from the lines before it (their amounts and transactions), as on the statement.
                var priced = segment.Touched.Resolution!.Value;
                var exact = TransactionFees(priced.Price!, segment.Transactions ?? [], before + segment.UntrackedQuantity, countBefore + segment.UntrackedCount);
                amount = Rounding.Round(exact, priced.Currency!.MinorUnits, priced.Book!.Rounding);
                Stamp(segment, priced);
            }
            else if (segment.Touched.Resolution is { IsPriced: true } priced && !priced.Price!.NeedsTransactions)
            {
                var exact = SegmentedPricing.Exact(priced.Price, before, countBefore, segment.State.Quantity, segment.State.Transactions, first);
                amount = Rounding.Round(exact, priced.Currency!.MinorUnits, priced.Book!.Rounding);
                Stamp(segment, priced);
            }

            var delta = amount - segment.State.Charged;
            segment.State.Charged = amount;
            if (segment.Touched.IsLate)
            {
                segment.LateAmount += delta;
            }

            moved += delta;
            before += segment.State.Quantity;
            countBefore += segment.State.Transactions;
            first = false;
        }

        return moved;
    }

    private static void Stamp(TotalAccumulator total, PriceResolution priced)
    {
        total.Currency = priced.Currency!.Code;
        total.Book = priced.Book!.Id;
        total.Version = priced.Version!.Version;
        total.Hash = priced.Version.Hash;
    }

    private static TotalAccumulator Start(TouchedTotal touched, IReadOnlyDictionary<PeriodTotalKey, StoredPeriodTotal> stored, IReadOnlyDictionary<PeriodTotalKey, BookedAdjustments> booked,
        IReadOnlyDictionary<PeriodTotalKey, IReadOnlyList<UsageTransaction>>? transactions)
    {
        var total = new TotalAccumulator(touched);
        if (stored.TryGetValue(touched.Key, out var s))
        {
            total.Exists = true;
            total.State.Quantity = s.Quantity;
            total.Count = s.Count;
            total.State.Transactions = s.Count;
            total.State.Charged = s.Amount;
            total.Currency = s.Currency;
            total.Book = s.PriceBook;
            total.Version = s.PriceBookVersion;
            total.Hash = s.PriceBookHash;
        }

        // What a change of this total moves from: the stored total alone (late totals report no change).
        total.QuantityBefore = total.State.Quantity;
        total.CountBefore = total.Count;
        total.AmountBefore = total.State.Charged;
        if (touched.IsLate && booked.TryGetValue(touched.Key, out var b))
        {
            // Late usage is rated on top of the frozen total plus what earlier late usage already booked.
            total.Exists = true;
            total.State.Quantity += b.Quantity;
            total.Count += b.Count;
            total.State.Transactions = total.Count;
            total.State.Charged += b.Amount;
        }

        if (touched.RatedPerTransaction)
        {
            // The total's transactions so far (its late ones too: they belong to the same period). What the total holds
            // beyond them was metered before the engine kept transactions (the price was unpriced then): it stays
            // unpriced and comes first in the period's order.
            var held = transactions?.GetValueOrDefault(touched.Key) is { } t ? t.Order().ToList() : [];
            total.Transactions = held;
            total.UntrackedQuantity = total.State.Quantity - held.Sum(x => x.Amount);
            total.UntrackedCount = total.State.Transactions - held.Count;
            if (total.UntrackedQuantity < 0 || total.UntrackedCount < 0)
            {
                throw new InvalidOperationException($"{touched.Key.Account}/{touched.Key.Sku} period {touched.Key.PeriodStart:yyyy-MM-dd}: the ledger holds {held.Count} transactions summing to {held.Sum(x => x.Amount)}, more than its total ({total.State.Transactions} records, quantity {total.State.Quantity})");
            }

            if (touched.Family < 0)
            {
                total.State.TransactionFees = TransactionFees(touched.Resolution!.Value.Price!, held, total.UntrackedQuantity, total.UntrackedCount);
            }
        }

        return total;
    }
}
