
namespace Metering.Web.Api;

/// <summary>The outcome of a close: the frozen totals, their sums per currency (exact decimal strings), and the final statements written.</summary>
internal sealed record PeriodCloseResponse(DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, bool AlreadyClosed, long Totals, IReadOnlyList<CurrencySubtotal> AmountByCurrency, int StatementsWritten);
