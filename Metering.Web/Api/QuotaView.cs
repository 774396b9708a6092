
namespace Metering.Web.Api;

/// <summary>A quota as the API shows it: the threshold as an exact decimal string.</summary>
internal sealed record QuotaView(long Id, string Account, string? Sku, string Metric, string Threshold, string? Currency, string Source, DateTimeOffset UpdatedAt);
