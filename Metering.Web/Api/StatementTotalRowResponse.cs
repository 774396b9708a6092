namespace Metering.Web.Api;

/// <summary>One period-total row a statement was built from (exact decimal strings).</summary>
internal sealed record StatementTotalRowResponse(string Sku, IReadOnlyDictionary<string, string> Dimensions, string Quantity, long RecordCount, string Amount, string Currency, string PriceBookHash);
