
namespace Metering.Web.Api;

/// <summary>An account's live usage in a billing period and where it was read from ("redis" or "postgres").</summary>
internal sealed record LiveUsageResponse(string Account, DateTimeOffset PeriodStart, string Source, IReadOnlyList<LiveUsageLine> Lines);
