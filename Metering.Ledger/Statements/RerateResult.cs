using Metering.Rating.Periods;

namespace Metering.Ledger.Statements;

/// <summary>
/// A re-rate of a closed <see cref="Period"/>: one <see cref="RerateAccountResult"/> per account compared (every account
/// with a final statement in the period, or the one asked for; in a replay only the accounts that got lines),
/// <see cref="AccountsCompared"/>, and the <see cref="Application"/> when it was applied (null for a preview, which
/// writes nothing).
/// </summary>
public sealed record RerateResult(BillingPeriod Period, IReadOnlyList<RerateAccountResult> Accounts, int AccountsCompared, RerateApplication? Application);
