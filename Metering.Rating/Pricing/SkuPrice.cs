using System.Runtime.CompilerServices;

namespace Metering.Rating.Pricing;

/// <summary>
/// The compiled, immutable price of one SKU in one price-book version. <see cref="Amount"/> is the exact,
/// unrounded charge for a cumulative period quantity; it allocates nothing and never throws for a
/// non-negative quantity, so the incremental rater can call it per window on the hot path. Thread-safe.
/// </summary>
/// <remarks>
/// Order of operations on a raw quantity q (in the SKU's metered unit, e.g. bytes):
/// 1. unit conversion: q' = q / DivideBy, rounded per <see cref="ConversionRounding"/> (none, up, down);
/// 2. included units: billable = max(0, q' - IncludedUnits);
/// 3. the model prices the billable quantity.
/// Every step works on the period's cumulative quantity, which is what makes window deltas telescope.
/// </remarks>
public sealed class SkuPrice
{
    private readonly decimal[] _upTo;
    private readonly decimal[] _lower;
    private readonly decimal[] _unitPrice;
    private readonly decimal[] _flatFee;
    private readonly decimal[] _baseAmount;
    private readonly decimal[] _blockSize;

    /// <summary>Compiles a price. Validation with JSON paths happens in the price-book loader; this throws on what it cannot represent.</summary>
    public SkuPrice(
        string sku,
        PricingModel model,
        string unit,
        decimal unitPrice = 0,
        IReadOnlyList<PriceTier>? tiers = null,
        decimal includedUnits = 0,
        decimal divideBy = 1,
        QuantityRounding conversionRounding = QuantityRounding.None,
        decimal packageSize = 1,
        decimal packagePrice = 0,
        QuantityRounding packageRounding = QuantityRounding.Up,
        decimal percentageRate = 0,
        decimal fixedFeePerTransaction = 0,
        decimal? perTransactionMin = null,
        decimal? perTransactionMax = null,
        bool flatFeeAtZero = true,
        long freeTransactions = 0,
        decimal freeAmount = 0)
    {
        ArgumentException.ThrowIfNullOrEmpty(sku);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(divideBy);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(packageSize);
        ArgumentOutOfRangeException.ThrowIfNegative(freeTransactions);
        ArgumentOutOfRangeException.ThrowIfNegative(freeAmount);
        if (model == PricingModel.Percentage && conversionRounding != QuantityRounding.None)
        {
            // A percentage applies to an exact amount; a whole-number conversion would make per-transaction and
            // period-total rating disagree.
            throw new ArgumentException($"{sku}: a percentage price converts without rounding", nameof(conversionRounding));
        }

        if ((freeTransactions > 0 || freeAmount > 0) && (model != PricingModel.Percentage || includedUnits > 0))
        {
            throw new ArgumentException($"{sku}: free transactions and a free amount belong to a percentage price without included units", nameof(freeAmount));
        }
        Sku = sku;
        Model = model;
        Unit = unit;
        UnitPrice = unitPrice;
        IncludedUnits = includedUnits;
        DivideBy = divideBy;
        ConversionRounding = conversionRounding;
        PackageSize = packageSize;
        PackagePrice = packagePrice;
        PackageRounding = packageRounding;
        PercentageRate = percentageRate;
        FixedFeePerTransaction = fixedFeePerTransaction;
        PerTransactionMin = perTransactionMin;
        PerTransactionMax = perTransactionMax;
        FlatFeeAtZero = flatFeeAtZero;
        FreeTransactions = freeTransactions;
        FreeAmount = freeAmount;
        Tiers = tiers ?? [];
        var n = Tiers.Count;
        _upTo = new decimal[n];
        _lower = new decimal[n];
        _unitPrice = new decimal[n];
        _flatFee = new decimal[n];
        _baseAmount = new decimal[n];
        _blockSize = new decimal[n];
        decimal lower = 0, running = 0;
        for (var i = 0; i < n; i++)
        {
            var t = Tiers[i];
            _upTo[i] = t.UpTo ?? decimal.MaxValue;
            _lower[i] = lower;
            _unitPrice[i] = t.UnitPrice;
            _flatFee[i] = t.FlatFee;
            _blockSize[i] = t.BlockSize ?? 0;
            if (t.BlockSize is { } size && size <= 0)
            {
                throw new ArgumentException($"{sku}: tier {i + 1} has a block size of {size}; it must be above zero", nameof(tiers));
            }

            // Graduated: the amount of all lower tiers, full, including their flat fees.
            _baseAmount[i] = running;
            if (t.UpTo is { } upTo)
            {
                running += TierUnits(upTo - lower, i) + t.FlatFee;
                lower = upTo;
            }
        }

        if ((model is PricingModel.Graduated or PricingModel.Volume) && (n == 0 || Tiers[^1].UpTo is not null))
        {
            throw new ArgumentException($"{sku}: tiered prices need tiers ending with an open-ended one", nameof(tiers));
        }
    }

    /// <summary>SKU priced.</summary>
    public string Sku { get; }

    /// <summary>Model.</summary>
    public PricingModel Model { get; }

    /// <summary>The billed unit after conversion (e.g. "GB"), for line items.</summary>
    public string Unit { get; }

    /// <summary>Per-unit price (per-unit model).</summary>
    public decimal UnitPrice { get; }

    /// <summary>Tiers (graduated, volume).</summary>
    public IReadOnlyList<PriceTier> Tiers { get; }

    /// <summary>Free units per period, in converted units, before the model applies.</summary>
    public decimal IncludedUnits { get; }

    /// <summary>Unit conversion divisor (1 = none).</summary>
    public decimal DivideBy { get; }

    /// <summary>Rounding of the converted quantity.</summary>
    public QuantityRounding ConversionRounding { get; }

    /// <summary>Units per block (package model).</summary>
    public decimal PackageSize { get; }

    /// <summary>Price per block (package model).</summary>
    public decimal PackagePrice { get; }

    /// <summary>Started blocks (up) or completed blocks (down).</summary>
    public QuantityRounding PackageRounding { get; }

    /// <summary>Percentage model: the rate in percent (2.5 = 2.5 %).</summary>
    public decimal PercentageRate { get; }

    /// <summary>Percentage model: fixed fee added per transaction.</summary>
    public decimal FixedFeePerTransaction { get; }

    /// <summary>Percentage model: lower bound of each transaction's fee.</summary>
    public decimal? PerTransactionMin { get; }

    /// <summary>Percentage model: upper bound of each transaction's fee.</summary>
    public decimal? PerTransactionMax { get; }

    /// <summary>
    /// Graduated and volume: whether a period quantity of zero (no billable unit, also when every unit is included)
    /// pays the first tier's flat fee (true, the default: Stripe, Lago, OpenMeter) or nothing (false: Flexprice).
    /// </summary>
    public bool FlatFeeAtZero { get; }

    /// <summary>Percentage model: the first N transactions of the period are free, rate and fixed fee (Lago's free units per events).</summary>
    public long FreeTransactions { get; }

    /// <summary>
    /// Percentage model: the first X of the period's amount is free from the rate, and the transactions entirely inside it
    /// pay no fixed fee either (Lago's free units per total aggregation). In converted units.
    /// </summary>
    public decimal FreeAmount { get; }

    /// <summary>
    /// The dimension keys whose values split this SKU's usage into lines of their own (<c>group_by</c>; Lago's grouped
    /// charges), sorted ordinally, no repeats; empty: one line per SKU. Each group is rated as a line of its own: its
    /// own cumulative quantity, tiers and included units (<see cref="PeriodTotals.DimensionGroup"/>).
    /// </summary>
    public IReadOnlyList<string> GroupBy { get; init; } = [];

    /// <summary>
    /// How the SKU's records become the period quantity this price rates (the price's <c>meter</c>; docs/meters.md):
    /// <see cref="Meters.MeterDefinition.Sum"/> when the book gives none. The price itself is the same for every meter:
    /// it prices the quantity the meter gives, so every model rates every meter.
    /// </summary>
    public Meters.MeterDefinition Meter { get; init; } = Meters.MeterDefinition.Sum;

    /// <summary>
    /// True when each transaction must be rated on its own: a percentage price with per-transaction bounds, free
    /// transactions, or a free amount and a fixed fee (which transactions lie inside the free amount depends on
    /// each one's amount). Every other price is rated from period totals alone.
    /// </summary>
    public bool NeedsTransactions => Model == PricingModel.Percentage &&
        (PerTransactionMin is not null || PerTransactionMax is not null || FreeTransactions > 0 || (FreeAmount > 0 && FixedFeePerTransaction != 0));

    /// <summary>
    /// The quantity the model prices: converted, less included units (and, for a percentage, less the free amount),
    /// never negative. For a percentage price with free transactions the amounts of those transactions are not
    /// subtracted here (they are known per transaction only).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public decimal BillableQuantity(decimal rawQuantity)
    {
        var q = ConvertedQuantity(rawQuantity) - IncludedUnits - FreeAmount;
        return q > 0 ? q : 0;
    }

    /// <summary>The raw quantity in the billed unit (step 1 only: divided by <see cref="DivideBy"/>, rounded per <see cref="ConversionRounding"/>), before included units.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public decimal ConvertedQuantity(decimal rawQuantity) =>
        DivideBy == 1m ? rawQuantity : Whole(rawQuantity / DivideBy, ConversionRounding);

    /// <summary>
    /// Exact, unrounded charge for a cumulative period quantity (and, for the percentage model, the number of
    /// transactions it came from). Monotone non-decreasing in the quantity for every model but volume.
    /// </summary>
    public decimal Amount(decimal rawQuantity, long transactions = 0)
    {
        var q = BillableQuantity(rawQuantity);
        switch (Model)
        {
            case PricingModel.Percentage:
                // Linear without per-transaction rules, so totals are enough: the rate on the billable amount, the fixed fee
                // per transaction, and nothing at all for a period amount of zero (Lago: no fixed fee on zero units).
                return rawQuantity == 0 ? 0 : (q * PercentageRate / 100m) + (FixedFeePerTransaction * transactions);
            case PricingModel.PerUnit:
                return q * UnitPrice;
            case PricingModel.Graduated:
            {
                if (q == 0)
                {
                    // Zero units fall in the first tier: its flat fee is due unless the price opts out (FlatFeeAtZero).
                    return FlatFeeAtZero ? _flatFee[0] : 0;
                }

                var k = TierOf(q);
                return _baseAmount[k] + TierUnits(q - _lower[k], k) + _flatFee[k];
            }

            case PricingModel.Volume:
            {
                if (q == 0)
                {
                    return FlatFeeAtZero ? _flatFee[0] : 0;
                }

                var k = TierOf(q);
                return TierUnits(q, k) + _flatFee[k];
            }

            default: // Package
                return Whole(q / PackageSize, PackageRounding) * PackagePrice;
        }
    }

    /// <summary>
    /// The tier breakdown of the charge for a cumulative raw period quantity: for <see cref="PricingModel.Graduated"/>
    /// one entry per tier the billable quantity reaches (its units, unit price, flat fee and amount); for
    /// <see cref="PricingModel.Volume"/> the one tier the quantity falls in, pricing every unit; empty for the other
    /// models; for a billable quantity of zero the first tier with 0 units when its flat fee is charged at zero
    /// (<see cref="FlatFeeAtZero"/>), else nothing. Nothing is rounded: each entry's amount is the exact
    /// units x unit price (started blocks x block price for a tier with a block size) + flat fee, and the amounts sum
    /// exactly to <see cref="Amount"/> (money is rounded once, on the line that carries the breakdown). Allocates; not for the hot path.
    /// </summary>
    public IReadOnlyList<TierCharge> TierBreakdown(decimal rawQuantity)
    {
        if (Model is not (PricingModel.Graduated or PricingModel.Volume))
        {
            return [];
        }

        var q = BillableQuantity(rawQuantity);
        if (q == 0)
        {
            return FlatFeeAtZero && _flatFee[0] != 0 ? [new TierCharge(1, 0, Tiers[0].UpTo, 0, _unitPrice[0], _flatFee[0], _flatFee[0])] : [];
        }

        var k = TierOf(q);
        if (Model == PricingModel.Volume)
        {
            return [new TierCharge(k + 1, _lower[k], Tiers[k].UpTo, q, _unitPrice[k], _flatFee[k], TierUnits(q, k) + _flatFee[k])];
        }

        // The same products and the same additions as _baseAmount and Amount, so the sum is Amount exactly.
        var charges = new TierCharge[k + 1];
        for (var i = 0; i <= k; i++)
        {
            var units = UnitsInTier(q, i);
            charges[i] = new TierCharge(i + 1, _lower[i], Tiers[i].UpTo, units, _unitPrice[i], _flatFee[i], TierUnits(units, i) + _flatFee[i]);
        }

        return charges;
    }

    /// <summary>
    /// The fee of one transaction of raw <paramref name="amount"/> (percentage model), the transaction number
    /// <paramref name="index"/> (0-based) of its period whose earlier transactions sum to <paramref name="amountBefore"/>
    /// (raw). Rules, in order (docs/pricebooks.md): a zero amount pays nothing; while the free allowance lasts (the
    /// first <see cref="FreeTransactions"/> transactions, and the amount before is below <see cref="FreeAmount"/>) a
    /// transaction is free unless it uses the free amount up, then only its part above the free amount is rated; a free
    /// transaction pays no fixed fee and is not raised to the minimum; included units come off the rated part in
    /// transaction order; the fee rate% x rated part + fixed fee is then clamped to [min, max].
    /// </summary>
    public decimal TransactionFee(decimal amount, decimal amountBefore = 0, long index = 0)
    {
        if (amount == 0)
        {
            return 0; // nothing was transacted: no fixed fee, no minimum
        }

        var converted = DivideBy == 1m ? amount : amount / DivideBy;
        var before = DivideBy == 1m ? amountBefore : amountBefore / DivideBy;
        var rated = converted;
        if (FreeTransactions > 0 || FreeAmount > 0)
        {
            var allowance = (FreeTransactions == 0 || index < FreeTransactions) && (FreeAmount == 0 || before < FreeAmount);
            if (allowance)
            {
                if (FreeAmount == 0)
                {
                    return 0; // one of the first N transactions
                }

                var remaining = FreeAmount - before;
                if (converted < remaining)
                {
                    return 0; // entirely inside the free amount
                }

                // The transaction that uses the free amount up (also exactly, as Lago does) pays the rate on its part
                // above it, and its fixed fee.
                rated = converted - remaining;
            }
        }
        else if (IncludedUnits > 0)
        {
            rated = Math.Max(0, before + converted - IncludedUnits) - Math.Max(0, before - IncludedUnits);
        }

        var fee = (rated * PercentageRate / 100m) + FixedFeePerTransaction;
        if (PerTransactionMin is { } min && fee < min)
        {
            fee = min;
        }

        if (PerTransactionMax is { } max && fee > max)
        {
            fee = max;
        }

        return fee;
    }

    /// <summary>Index of the tier containing billable quantity <paramref name="q"/> (q > 0): the first with q &lt;= up_to.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int TierOf(decimal q)
    {
        var upTo = _upTo;
        var k = 0;
        while (q > upTo[k])
        {
            k++;
        }

        return k;
    }

    /// <summary>The units of billable quantity <paramref name="q"/> that fall in tier <paramref name="k"/> (graduated breakdown).</summary>
    public decimal UnitsInTier(decimal q, int k)
    {
        if (q <= _lower[k])
        {
            return 0;
        }

        return Math.Min(q, _upTo[k]) - _lower[k];
    }

    /// <summary>The amount of <paramref name="units"/> priced in tier <paramref name="k"/> (no flat fee): per unit, or per started block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private decimal TierUnits(decimal units, int k) =>
        _blockSize[k] == 0 ? units * _unitPrice[k] : decimal.Ceiling(units / _blockSize[k]) * _unitPrice[k];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static decimal Whole(decimal value, QuantityRounding rounding) => rounding switch
    {
        QuantityRounding.Up => decimal.Ceiling(value),
        QuantityRounding.Down => decimal.Floor(value),
        _ => value,
    };
}
