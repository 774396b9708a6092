using Metering.Rating.Periods;

namespace Metering.Ledger.Statements;

/// <summary>
/// An applied re-rate: the <see cref="Batch"/> (the idempotency key) its lines carry, the open period they were
/// booked into, how many, and whether this call was a <see cref="Replay"/> of an earlier apply with the same key
/// (then nothing was written now).
/// </summary>
public sealed record RerateApplication(string Batch, bool Replay, BillingPeriod BookedInto, int LinesBooked, string Reason, string Actor, bool Forced, DateTimeOffset CreatedAt);
