
namespace Metering.Web.Api;

/// <summary>The outcome of a close: the frozen totals, their sums per currency (exact decimal strings), and the final statements written.</summary>
/// <c>rule_groups</c>: the accounts with a period rule of their own, per rule, with their own period of this close and
/// whether it is closed (false: it has not ended yet; closing again after its end closes it).
internal sealed record PeriodCloseResponse(DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, bool AlreadyClosed, long Totals, IReadOnlyList<CurrencySubtotal> AmountByCurrency, int StatementsWritten,
    IReadOnlyList<RuleGroupCloseResponse> RuleGroups);
