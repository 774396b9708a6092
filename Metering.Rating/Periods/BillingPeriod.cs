namespace Metering.Rating.Periods;

/// <summary>A half-open billing period [Start, End) in UTC.</summary>
public readonly record struct BillingPeriod(DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>Length of the period.</summary>
    public TimeSpan Length => End - Start;

    /// <summary>True when <paramref name="instant"/> lies in [Start, End).</summary>
    public bool Contains(DateTimeOffset instant) => instant >= Start && instant < End;

    /// <summary>"2026-11-01T00:00:00Z/2026-12-01T00:00:00Z" (ISO 8601 interval).</summary>
    public override string ToString() =>
        $"{Start.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}/{End.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}";
}
