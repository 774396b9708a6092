
namespace Metering.Web.Api;

/// <summary>The body of a new quota: <c>metric</c> quantity (with a SKU) or amount (with a currency); <c>threshold</c> a decimal string.</summary>
internal sealed record QuotaRequest(string? Sku, string? Metric, string? Threshold, string? Currency);
