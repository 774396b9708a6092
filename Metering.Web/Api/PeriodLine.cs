
namespace Metering.Web.Api;

/// <summary>One SKU's rated total in a period, from <c>billing_period_totals</c>.</summary>
internal sealed record PeriodLine(string Sku, IReadOnlyDictionary<string, string> Dimensions, string Quantity, long RecordCount, string Amount, string Currency, string PriceBook, string PriceBookVersion, string PriceBookHash);
