namespace Metering.Web.Api;

/// <summary>An applied re-rate: its batch (the idempotency key), whether this call replayed it, the open period it was booked into, and how many lines.</summary>
internal sealed record RerateApplicationResponse(string Batch, bool Replay, DateTimeOffset BookedPeriodStart, DateTimeOffset BookedPeriodEnd, int LinesBooked, string Reason,
    string Actor, bool Forced, DateTimeOffset CreatedAt);
