namespace Metering.Ledger.Flush;

/// <summary>Another consumer advanced a partition's offset in PostgreSQL first: this batch must be discarded and replayed.</summary>
public sealed class FencedException(string message) : Exception(message);
