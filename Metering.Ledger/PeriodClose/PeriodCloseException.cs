namespace Metering.Ledger.PeriodClose;

/// <summary>A close that is not allowed (the period has not ended, or the start is not a period boundary).</summary>
public sealed class PeriodCloseException(string message) : Exception(message);
