namespace Metering.Rating.Statements;

/// <summary>
/// One SKU's usage total for a statement's period: the exact <paramref name="Quantity"/> in the SKU's raw metered unit
/// (bytes, requests, ...; never negative), the <paramref name="RecordCount"/> of records behind it, and, for a
/// percentage price with per-transaction bounds only, the amount of every single <paramref name="Transactions"/>
/// (they must number <paramref name="RecordCount"/> and sum to <paramref name="Quantity"/>). Without them such a
/// SKU is unpriced (reason <see cref="UsageLine.TransactionsRequired"/>); every other model rates the total alone.
/// <paramref name="Group"/> is the dimension group of a SKU whose price groups by dimensions
/// (<see cref="PeriodTotals.DimensionGroup"/>): each group is a total, and a line, of its own. <paramref name="PriceFrom"/>
/// is null for usage priced from the period's start, else the instant inside the period a version took effect, from
/// which this usage was priced (<see cref="PeriodTotals.PeriodTotalKey.PriceFrom"/>): a line of its own, priced on top
/// of the quantity of the lines before it (<see cref="Pricing.SegmentedPricing"/>).
/// </summary>
public sealed record SkuUsage(string Sku, decimal Quantity, long RecordCount, IReadOnlyList<decimal>? Transactions = null, string Group = PeriodTotals.DimensionGroup.None, DateTimeOffset? PriceFrom = null)
{
    /// <summary>
    /// What the engine charged for this usage (rounded), when it comes from the ledger; null when unknown (a file's
    /// usage, a correction). Only a price rated per transaction uses it: the engine rated each of its records in the
    /// period's order (<see cref="PeriodTotals.UsageTransaction"/>), which the total alone cannot repeat, so the statement
    /// takes that amount when the version that rated it (<see cref="RatedHash"/>) is the one that prices the line.
    /// </summary>
    public decimal? RatedAmount { get; init; }

    /// <summary>The lineage hash of the version <see cref="RatedAmount"/> was rated with; null: the version that prices the line.</summary>
    public string? RatedHash { get; init; }

    /// <summary>
    /// For a SKU whose price names a meter other than sum: why the meter could not give an exact quantity
    /// (<see cref="Meters.MeterQuantity.OverBoundReason"/>, <see cref="Meters.MeterQuantity.OverflowReason"/>), and the line is
    /// unpriced; null otherwise. <see cref="MeterDetail"/> says what it means.
    /// </summary>
    public string? MeterUnpriced { get; init; }

    /// <summary>The detail of <see cref="MeterUnpriced"/>.</summary>
    public string? MeterDetail { get; init; }

    /// <summary>" priced from 2026-11-15T00:00:00Z" for usage of a price segment, "" otherwise: how messages name a segment.</summary>
    public static string SegmentText(DateTimeOffset? priceFrom) =>
        priceFrom is { } f ? $" priced from {f.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}" : "";
}
