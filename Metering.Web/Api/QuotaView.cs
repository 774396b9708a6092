
namespace Metering.Web.Api;

/// <summary>
/// A quota as the API shows it: the threshold as an exact decimal string; <c>status</c> <c>active</c>, or
/// <c>currency_mismatch</c> for an amount quota in another currency than the account's billing currency (compared
/// with nothing, so it never fires: amounts are never converted), or <c>invalid_threshold</c> (never evaluated).
/// </summary>
internal sealed record QuotaView(long Id, string Account, string? Sku, string Metric, string Threshold, string? Currency, string Source, DateTimeOffset UpdatedAt, string Status);
