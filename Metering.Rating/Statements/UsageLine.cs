using Metering.Rating.Pricing;

namespace Metering.Rating.Statements;

/// <summary>
/// The usage line of one SKU on a statement, rated from the period's total. Quantities: <see cref="RecordedQuantity"/>
/// in <see cref="RecordedUnit"/> (what was metered) -> <see cref="ConvertedQuantity"/> in <see cref="BillableUnit"/>
/// (after <c>convert</c>: divided and rounded) -> less <see cref="IncludedUnitsApplied"/> -> <see cref="BillableQuantity"/>,
/// what the model prices. Money: the tiers' exact amounts sum to <see cref="ExactAmount"/> (= <see cref="SkuPrice.Amount"/>),
/// which is rounded once, to the currency's minor units with the book's rounding mode, into <see cref="Amount"/>.
/// An unpriced line (<see cref="Priced"/> false) keeps the quantity and record count, has amount 0, no currency, and
/// says why in <see cref="UnpricedReason"/> (with <see cref="UnpricedDetail"/>); its book fields name the book that
/// was consulted, if any.
/// </summary>
public sealed record UsageLine
{
    /// <summary>Unpriced: no price book applies (no list or contract book for the account, or no version effective at the period's start).</summary>
    public const string NoPriceBook = "no_price_book";

    /// <summary>Unpriced: the book version that applies does not price the SKU.</summary>
    public const string SkuNotInBook = "sku_not_in_book";

    /// <summary>Unpriced: a percentage price with per-transaction bounds, and the input did not carry the single transactions.</summary>
    public const string TransactionsRequired = "per_transaction_bounds_need_transactions";

    /// <summary>The SKU.</summary>
    public required string Sku { get; init; }

    /// <summary>
    /// The dimension group of the line when the SKU's price groups by dimensions (<c>group_by</c>): canonical JSON of
    /// the group's keys and values, <c>{"region":"eu"}</c> (<see cref="PeriodTotals.DimensionGroup"/>); "" otherwise.
    /// </summary>
    public string Group { get; init; } = PeriodTotals.DimensionGroup.None;

    /// <summary>
    /// Null unless a version took effect inside the period: then the instant this line's usage is priced from (the
    /// period's start for the first line of the SKU and group), and the line is priced on top of the quantity of the
    /// lines before it (docs/pricebooks.md, "Versions that take effect inside a period").
    /// </summary>
    public DateTimeOffset? PriceFrom { get; init; }

    /// <summary>The end of the stretch <see cref="PriceFrom"/> starts (the next line's start or the period's end); null with it.</summary>
    public DateTimeOffset? PriceTo { get; init; }

    /// <summary>The line's price segment as its total is keyed (<see cref="SkuUsage.PriceFrom"/>): null from the period's start.</summary>
    public DateTimeOffset? SegmentIn(Periods.BillingPeriod period) => PriceFrom == period.Start ? null : PriceFrom;

    /// <summary>True when a price applied; false for an unpriced line (amount 0, <see cref="UnpricedReason"/> set).</summary>
    public required bool Priced { get; init; }

    /// <summary><see cref="NoPriceBook"/>, <see cref="SkuNotInBook"/> or <see cref="TransactionsRequired"/>; null when priced.</summary>
    public string? UnpricedReason { get; init; }

    /// <summary>Why, in words (which book, which version); null when priced.</summary>
    public string? UnpricedDetail { get; init; }

    /// <summary>The period's total in the raw metered unit, exact.</summary>
    public required decimal RecordedQuantity { get; init; }

    /// <summary>
    /// The raw metered unit as the price book defines it: the book's <c>unit</c> when there is no conversion, else
    /// <c>1/D unit</c> for <c>divide_by</c> D (bytes of a GB-priced SKU: <c>1/1000000000 GB</c>). Null when unpriced.
    /// </summary>
    public string? RecordedUnit { get; init; }

    /// <summary>Records behind the quantity.</summary>
    public required long RecordCount { get; init; }

    /// <summary>The pricing model, null when unpriced.</summary>
    public PricingModel? Model { get; init; }

    /// <summary>The quantity in <see cref="BillableUnit"/> after conversion and its rounding, before included units; 0 when unpriced.</summary>
    public decimal ConvertedQuantity { get; init; }

    /// <summary>The included (free) units this line used: min(converted, included_units); 0 when unpriced.</summary>
    public decimal IncludedUnitsApplied { get; init; }

    /// <summary>What the model priced: converted less included units, never negative; 0 when unpriced.</summary>
    public decimal BillableQuantity { get; init; }

    /// <summary>The billed unit (the book's <c>unit</c>, e.g. GB); null when unpriced.</summary>
    public string? BillableUnit { get; init; }

    /// <summary>The tier breakdown of graduated and volume prices (see <see cref="SkuPrice.TierBreakdown"/>); empty otherwise.</summary>
    public IReadOnlyList<TierCharge> Tiers { get; init; } = [];

    /// <summary>The exact, unrounded charge (the tiers' amounts sum to it exactly); 0 when unpriced.</summary>
    public required decimal ExactAmount { get; init; }

    /// <summary>The line amount: <see cref="ExactAmount"/> rounded to the currency's minor units (the one rounding step of the line); 0 when unpriced.</summary>
    public required decimal Amount { get; init; }

    /// <summary>ISO 4217 code of the amount; null when unpriced.</summary>
    public string? Currency { get; init; }

    /// <summary>Id of the book whose price applied (or that was consulted, for <see cref="SkuNotInBook"/>).</summary>
    public string? PriceBook { get; init; }

    /// <summary>Version of that book.</summary>
    public string? PriceBookVersion { get; init; }

    /// <summary>"sha256:..." of that version: the lineage of the amount.</summary>
    public string? PriceBookHash { get; init; }
}
