
namespace Metering.Web.Api;

/// <summary>One SKU's live counter: cumulative totals of the period as of the last committed flush.</summary>
internal sealed record LiveUsageLine(string Sku, long RecordCount, string Quantity, string Amount, string Currency);
