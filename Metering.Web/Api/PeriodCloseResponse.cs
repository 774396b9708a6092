
namespace Metering.Web.Api;

/// <summary>The outcome of a close: the frozen totals and their sums per currency (exact decimal strings).</summary>
internal sealed record PeriodCloseResponse(DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, bool AlreadyClosed, long Totals, IReadOnlyList<CurrencySubtotal> AmountByCurrency);
