using System.Globalization;
using Metering.Rating.Invoicing;
using Metering.Rating.Money;
using Metering.Rating.PriceBooks;
using Metering.Rating.Pricing;

namespace Metering.Rating.Statements;

/// <summary>
/// Builds the statement of one account and period from scratch (docs/statements.md). Each SKU's period total (each price segment of it: <see cref="SkuUsage.PriceFrom"/>, <see cref="SegmentedPricing"/>) is rated
/// with the price effective at its start (<see cref="PriceCatalog.Resolve"/>: contract first, then list) by
/// <see cref="SkuPrice.Amount"/> (or <see cref="SkuPrice.TransactionFee"/> per transaction for bounded percentage
/// prices) and rounded once per line; fees and the commitment are <see cref="PeriodChargeLines"/>' rule over the part of
/// the period the subscription is active, the true-up compared with the usage lines of the statement in the commitment's
/// currency (adjustment lines never count against it). Pure: reads nothing but its input, the same input gives the same statement and hash.
/// Bad input (duplicate SKU, negative quantity, inconsistent transactions, unknown adjustment kind or currency, an
/// amount finer than the currency's minor units) throws <see cref="ArgumentException"/> naming it.
/// </summary>
public static class StatementBuilder
{
    /// <summary>Builds the statement of <paramref name="input"/>.</summary>
    public static Statement Build(StatementInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentException.ThrowIfNullOrEmpty(input.Account);
        ArgumentNullException.ThrowIfNull(input.Terms);
        ArgumentNullException.ThrowIfNull(input.Usage);
        ArgumentNullException.ThrowIfNull(input.Adjustments);
        ArgumentNullException.ThrowIfNull(input.Prices);
        var period = input.Period;
        if (period.End <= period.Start)
        {
            throw new ArgumentException($"the period {period} ends before it starts", nameof(input));
        }

        var terms = input.Terms;
        if (terms.SubscriptionEnd is { } end && end < terms.SubscriptionStart)
        {
            throw new ArgumentException($"the subscription ends ({end:O}) before it starts ({terms.SubscriptionStart:O})", nameof(input));
        }

        // The account's billing currency selects the price of every line (docs/pricebooks.md, "Currencies").
        var prices = terms.BillingCurrency is { } billing ? input.Prices.WithAccountCurrency(input.Account, Currency.Get(billing)) : input.Prices;
        var usage = new List<UsageLine>(input.Usage.Count);
        var skus = new HashSet<(string, string, DateTimeOffset?)>();
        foreach (var u in input.Usage)
        {
            ArgumentNullException.ThrowIfNull(u, nameof(input));
            if (!skus.Add((u.Sku, u.Group ?? "", u.PriceFrom)))
            {
                throw new ArgumentException($"SKU '{u.Sku}'{GroupText(u.Group)}{SkuUsage.SegmentText(u.PriceFrom)} has two usage totals; a statement takes one total per SKU, dimension group and price segment", nameof(input));
            }

            if (u.PriceFrom is { } from && (from <= period.Start || from >= period.End))
            {
                throw new ArgumentException($"SKU '{u.Sku}': price segment from {from:O} is not inside the period {period}", nameof(input));
            }
        }

        // The lines of a SKU and group in time order: each is priced on top of the quantity of those before it.
        foreach (var family in input.Usage.GroupBy(u => (u.Sku, u.Group ?? "")))
        {
            var lines = family.OrderBy(u => u.PriceFrom ?? period.Start).ToList();
            var carry = new Carry();
            for (var i = 0; i < lines.Count; i++)
            {
                var line = Rate(input, prices, lines[i], carry, i == 0);
                usage.Add(lines.Count == 1 ? line : line with { PriceFrom = lines[i].PriceFrom ?? period.Start, PriceTo = i + 1 < lines.Count ? lines[i + 1].PriceFrom : period.End });
            }
        }

        foreach (var a in input.Adjustments)
        {
            Check(a);
        }

        // Usage charged against a commitment: the usage lines of the statement in its currency, nothing else. An
        // adjustment line is never charged against this period's commitment: a difference for a closed period was
        // already compared with that period's own commitment (counting it again would let this period's commitment absorb
        // last period's excess), and a credit counted here would raise the true-up by as much as it credits.
        var charged = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var u in usage)
        {
            if (u.Currency is { } c)
            {
                charged[c] = charged.GetValueOrDefault(c) + u.Amount;
            }
        }

        var fees = new List<FeeLine>();
        var commitments = new List<CommitmentLine>();
        var serviceStart = terms.SubscriptionStart > period.Start ? terms.SubscriptionStart : period.Start;
        var serviceEnd = terms.SubscriptionEnd is { } e && e < period.End ? e : period.End;

        // A subscription that is not active at all during the period owes neither fees nor a commitment.
        if (serviceStart < serviceEnd)
        {
            var active = (decimal)(serviceEnd - serviceStart).Ticks / period.Length.Ticks;
            var feeIndex = 0;
            foreach (var line in PeriodChargeLines.Of(prices, input.Account, period, terms.SubscriptionStart, terms.SubscriptionEnd, c => charged.GetValueOrDefault(c.Code)))
            {
                var currency = line.Currency.Code;
                if (line.Kind == PeriodChargeLine.Fee)
                {
                    // Fee lines come in the version's order (ids need not be unique), so the i-th line is the i-th fee.
                    var prorated = line.Version.Fees[feeIndex++].Prorate;
                    fees.Add(new FeeLine(line.FeeId!, serviceStart, serviceEnd, prorated ? active : 1m, line.Amount, currency, line.Book.Id, line.Version.Version, line.Version.Hash));
                }
                else
                {
                    commitments.Add(new CommitmentLine(line.Commitment!.Value, line.UsageCharged!.Value, line.Amount, currency, line.Book.Id, line.Version.Version, line.Version.Hash));
                }
            }
        }

        return new Statement(input.Account, period, terms, usage, fees, commitments, input.Adjustments);
    }

    // What the lines of a SKU and group before the current one hold: quantity, records and transactions.
    private sealed class Carry
    {
        public decimal Quantity;
        public long Records;
        public decimal TransactionAmount;
        public long TransactionCount;
    }

    private static UsageLine Rate(StatementInput input, PriceCatalog prices, SkuUsage u, Carry carry, bool isFirst)
    {
        var line = RateLine(input, prices, u, carry, isFirst);
        carry.Quantity += u.Quantity;
        carry.Records += u.RecordCount;
        // A later line rated per transaction goes on from every transaction before it (as the engine's flush does).
        carry.TransactionAmount += u.Quantity;
        carry.TransactionCount += u.RecordCount;

        return line;
    }

    private static UsageLine RateLine(StatementInput input, PriceCatalog prices, SkuUsage u, Carry carry, bool isFirst)
    {
        ArgumentException.ThrowIfNullOrEmpty(u.Sku, nameof(input));
        if (u.Quantity < 0 || u.RecordCount < 0)
        {
            throw new ArgumentException($"SKU '{u.Sku}': quantity {u.Quantity} and record count {u.RecordCount} must not be negative", nameof(input));
        }

        if (u.Transactions is { } tx)
        {
            var sum = 0m;
            foreach (var t in tx)
            {
                sum += t;
            }

            if (tx.Count != u.RecordCount || sum != u.Quantity)
            {
                throw new ArgumentException($"SKU '{u.Sku}': {tx.Count} transactions summing to {sum} do not match the total ({u.RecordCount} records, quantity {u.Quantity})", nameof(input));
            }
        }

        var resolution = prices.Resolve(input.Account, u.Sku, u.PriceFrom ?? input.Period.Start);
        if (!resolution.IsPriced)
        {
            var reason = resolution.UnpricedReason switch
            {
                "unknown_sku" => UsageLine.SkuNotInBook,
                PriceResolution.CurrencyNotPriced => PriceResolution.CurrencyNotPriced,
                _ => UsageLine.NoPriceBook,
            };
            return Unpriced(u, reason, resolution.Detail, resolution);
        }

        var price = resolution.Price!;
        var book = resolution.Book!;
        if (!price.Meter.IsSum)
        {
            // A metered line's quantity is its meter's over its own range (docs/meters.md): priced alone, never on top
            // of the lines before it, and unpriced when the meter could not give an exact quantity.
            if (u.MeterUnpriced is { } why)
            {
                return Unpriced(u, why, u.MeterDetail, resolution);
            }

            carry = new Carry();
            isFirst = true;
        }

        decimal exact;
        if (price.NeedsTransactions && u.Transactions is null && u.RatedAmount is { } rated && (u.RatedHash is null || u.RatedHash == resolution.Version!.Hash))
        {
            // Rated per transaction by the engine, in the period's order, with this very version (the ledger keeps the
            // transactions: usage_transactions); a total cannot be rated again without them.
            exact = rated;
        }
        else if (price.NeedsTransactions)
        {
            if (u.Transactions is not { } transactions)
            {
                return Unpriced(u, UsageLine.TransactionsRequired,
                    $"SKU '{u.Sku}' has per-transaction bounds in '{book.Id}' version '{resolution.Version!.Version}': it is rated from its single transactions, which the input does not carry", resolution);
            }

            // Each transaction's fee is clamped on its own, in order (its free allowance depends on the ones before it),
            // summed exactly, and the sum is rounded once (as WindowRater.RateTransaction does).
            // A later line goes on from the transactions of the lines before it.
            exact = 0;
            var before = carry.TransactionAmount;
            for (var i = 0; i < transactions.Count; i++)
            {
                exact += price.TransactionFee(transactions[i], before, carry.TransactionCount + i);
                before += transactions[i];
            }
        }
        else
        {
            exact = SegmentedPricing.Exact(price, carry.Quantity, carry.Records, u.Quantity, u.RecordCount, isFirst);
        }

        // Every model converts and takes its included units off first; a percentage's free amount counts as included.
        // A later line shows what its quantity adds on top of the lines before it.
        decimal Included(decimal raw) => Math.Max(0, Math.Min(price.ConvertedQuantity(raw), price.IncludedUnits + price.FreeAmount));
        var converted = price.ConvertedQuantity(carry.Quantity + u.Quantity) - price.ConvertedQuantity(carry.Quantity);
        var included = Included(carry.Quantity + u.Quantity) - Included(carry.Quantity);
        return new UsageLine
        {
            Sku = u.Sku,
            Group = u.Group,
            Priced = true,
            RecordedQuantity = u.Quantity,
            RecordedUnit = price.DivideBy == 1m ? price.Unit : $"1/{price.DivideBy.ToString(CultureInfo.InvariantCulture)} {price.Unit}",
            RecordCount = u.RecordCount,
            Model = price.Model,
            ConvertedQuantity = converted,
            IncludedUnitsApplied = included,
            BillableQuantity = converted - included,
            BillableUnit = price.Unit,
            Tiers = SegmentedPricing.Tiers(price, carry.Quantity, u.Quantity, isFirst),
            ExactAmount = exact,
            Amount = Rounding.Round(exact, resolution.Currency!.MinorUnits, book.Rounding),
            Currency = resolution.Currency.Code,
            PriceBook = book.Id,
            PriceBookVersion = resolution.Version!.Version,
            PriceBookHash = resolution.Version.Hash,
        };
    }

    private static string GroupText(string? group) => string.IsNullOrEmpty(group) ? "" : $" group {group}";

    private static UsageLine Unpriced(SkuUsage u, string reason, string? detail, PriceResolution consulted) => new()
    {
        Sku = u.Sku,
        Group = u.Group,
        Priced = false,
        UnpricedReason = reason,
        UnpricedDetail = detail,
        RecordedQuantity = u.Quantity,
        RecordCount = u.RecordCount,
        ExactAmount = 0,
        Amount = 0,
        PriceBook = consulted.Book?.Id,
        PriceBookVersion = consulted.Version?.Version,
        PriceBookHash = consulted.Version?.Hash,
    };

    private static void Check(AdjustmentLine a)
    {
        ArgumentNullException.ThrowIfNull(a);
        if (!AdjustmentLine.IsKnownKind(a.Kind))
        {
            throw new ArgumentException($"adjustment kind '{a.Kind}' is not one of late_usage, correction, rerate, manual", nameof(a));
        }

        if (!Currency.TryGet(a.Currency ?? "", out var currency))
        {
            throw new ArgumentException($"adjustment '{a.Reference}': '{a.Currency}' is not a known ISO 4217 currency code", nameof(a));
        }

        if (decimal.Round(a.Amount, currency.MinorUnits) != a.Amount)
        {
            throw new ArgumentException($"adjustment '{a.Reference}': amount {a.Amount} has more fractional digits than {currency.Code}'s {currency.MinorUnits}", nameof(a));
        }
    }
}
