namespace Metering.Ledger.Statements;

/// <summary>A re-rate the ledger refuses, with the <see cref="Refusal"/> and a message saying what to change. Nothing was written.</summary>
public sealed class RerateException(RerateRefusal refusal, string message) : Exception(message)
{
    /// <summary>Why it was refused.</summary>
    public RerateRefusal Refusal { get; } = refusal;
}
