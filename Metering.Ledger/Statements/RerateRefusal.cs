namespace Metering.Ledger.Statements;

/// <summary>Why a re-rate was refused (<see cref="RerateException"/>).</summary>
public enum RerateRefusal
{
    /// <summary>The period is not closed: its draft already follows the books, there is nothing final to re-rate.</summary>
    OpenPeriod,

    /// <summary>The period (or the one account asked for) has no final statement.</summary>
    NoFinalStatement,

    /// <summary>The billing books do not reproduce a final statement: the difference would not be against what was billed.</summary>
    BillingBooksMismatch,

    /// <summary>A re-rate of the period is already booked for an account, and the apply was not forced.</summary>
    AlreadyRerated,

    /// <summary>The idempotency key was used for a different re-rate request.</summary>
    KeyReused,

    /// <summary>
    /// The draft changes the price of a SKU rated per transaction (docs/pricebooks.md, "Percentage prices"): its line
    /// cannot be re-rated from the statement's totals, and would otherwise come out unpriced (a credit of everything it billed).
    /// </summary>
    RatedPerTransaction,
}
