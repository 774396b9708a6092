namespace Metering.Rating.PeriodTotals;

/// <summary>
/// One record of a SKU whose price is rated per transaction (<see cref="Pricing.SkuPrice.NeedsTransactions"/>): its
/// event time, its dedup fingerprint and its exact amount. A period's transactions are rated in <b>event-time order,
/// ties by fingerprint</b> (<see cref="CompareTo"/>): whatever order they arrive in, the first N transactions of a
/// period (free transactions, a free amount) are the same ones, so a replay, a late record and the statement agree.
/// <see cref="TimeMicros"/> is microseconds since the Unix epoch, the precision PostgreSQL keeps (timestamptz), so the
/// order the engine rates in is the order the ledger reads back.
/// </summary>
public readonly record struct UsageTransaction(long TimeMicros, UInt128 Fingerprint, decimal Amount) : IComparable<UsageTransaction>
{
    /// <summary>The transaction of a record at <paramref name="utcTicks"/> (<see cref="DateTime.Ticks"/>; finer than a microsecond is dropped).</summary>
    public static UsageTransaction FromTicks(long utcTicks, UInt128 fingerprint, decimal amount) =>
        new((utcTicks - DateTime.UnixEpoch.Ticks) / TimeSpan.TicksPerMicrosecond, fingerprint, amount);

    /// <summary>The event time.</summary>
    public DateTimeOffset Time => new(DateTime.UnixEpoch.Ticks + (TimeMicros * TimeSpan.TicksPerMicrosecond), TimeSpan.Zero);

    /// <summary>Event time, then fingerprint (as an unsigned 128-bit number). The amount takes no part: a fingerprint is unique in a period.</summary>
    public int CompareTo(UsageTransaction other)
    {
        var c = TimeMicros.CompareTo(other.TimeMicros);
        return c != 0 ? c : Fingerprint.CompareTo(other.Fingerprint);
    }
}
