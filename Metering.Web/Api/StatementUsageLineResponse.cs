namespace Metering.Web.Api;

/// <summary>One SKU's usage line: recorded, converted and billable quantity with units, included units applied, the tier breakdown, the exact and the rounded amount, and the price-book version that priced it; an unpriced line says why.</summary>
internal sealed record StatementUsageLineResponse(string LineId, string Sku, bool Priced, string? UnpricedReason, string RecordedQuantity, string? RecordedUnit, string ConvertedQuantity, string IncludedUnitsApplied, string BillableQuantity, string? BillableUnit, long RecordCount, IReadOnlyList<StatementTierResponse> Tiers, string ExactAmount, string Amount, string? Currency, string? PriceBook, string? PriceBookVersion, string? PriceBookHash);
