using Metering.Rating.Statements;

namespace Metering.Ledger.Statements;

/// <summary>
/// The statement of one account and period as the ledger serves it: <see cref="Final"/> when period close wrote it
/// (then <see cref="Id"/>, <see cref="FinalizedAt"/> and <see cref="Inputs"/> are set), else a draft built just now
/// from the ledger's current rows. <see cref="PeriodClosed"/> is true for a closed period (whose statement may still be
/// a draft if it was closed before final statements existed).
/// </summary>
public sealed record AccountStatement(Statement Statement, bool Final, bool PeriodClosed, long? Id, DateTimeOffset? FinalizedAt, StatementInputs Inputs)
{
    /// <summary>"final" or "draft".</summary>
    public string Status => Final ? "final" : "draft";

    /// <summary>The public id of a final statement: <c>st_</c> and its number; null for a draft.</summary>
    public string? StatementId => Id is { } id ? StatementIds.Format(id) : null;
}
