using Metering.Rating.Money;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;

namespace Metering.Rating.Invoicing;

/// <summary>
/// A charge of a whole billing period rather than of usage: a recurring <see cref="Fee"/> (<see cref="FeeId"/> set)
/// or a minimum-commitment true-up (<see cref="Commitment"/> and <see cref="UsageCharged"/>, the usage it is compared with, set), its
/// rounded amount and the book and version it comes from, and the currency it is charged in (<paramref name="ChargedIn"/>:
/// the account's billing currency; null: the book's). Callers word the description for their own output.
/// </summary>
public sealed record PeriodChargeLine(string Kind, BillingPeriod Period, string? FeeId, decimal? Commitment, decimal? UsageCharged, decimal Amount, PriceBook Book, PriceBookVersion Version,
    Currency? ChargedIn = null)
{
    /// <summary>The kind of a recurring fee line.</summary>
    public const string Fee = "fee";

    /// <summary>The kind of a minimum-commitment true-up line.</summary>
    public const string CommitmentTrueUp = "commitment_true_up";

    /// <summary>The currency of <see cref="Amount"/>: <see cref="ChargedIn"/>, else the book's.</summary>
    public Currency Currency => ChargedIn ?? Book.Currency;
}
