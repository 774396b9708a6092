using Metering.Rating.Periods;

namespace Metering.Ledger.PeriodClose;

/// <summary>The outcome of closing a billing period.</summary>
/// <param name="Period">The period that is now closed.</param>
/// <param name="AlreadyClosed">True when it had been closed before (closing is idempotent).</param>
/// <param name="Totals">Billing-period total rows frozen by the close.</param>
/// <param name="AmountByCurrency">Sum of the frozen totals' amounts per currency (exact).</param>
/// <param name="StatementsWritten">Final statements this close wrote (0 when closed without prices, or all were written before), all groups included.</param>
/// <param name="Groups">The accounts with a period rule of their own, per rule: which of their periods this close is for and whether it closed it.</param>
public sealed record PeriodCloseResult(BillingPeriod Period, bool AlreadyClosed, long Totals, IReadOnlyDictionary<string, decimal> AmountByCurrency, int StatementsWritten = 0,
    IReadOnlyList<RuleGroupClose>? Groups = null)
{
    /// <summary>The groups whose period has not ended yet: closing the same period again after their end closes them.</summary>
    public IEnumerable<RuleGroupClose> Pending => (Groups ?? []).Where(g => !g.Closed);
}
