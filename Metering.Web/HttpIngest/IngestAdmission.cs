namespace Metering.Web.HttpIngest;

/// <summary>
/// Admission of <c>POST /v1/events</c> requests, decided before a byte of the body is read: a bound on requests in
/// progress and a byte budget for the bodies they hold (<see cref="HttpIngestOptions.MaxConcurrentRequests"/>,
/// <see cref="HttpIngestOptions.MaxBufferedBytes"/>). Without it every concurrent request could buffer a full body
/// before the in-flight bound (counted in records, after parsing) says no. Thread-safe, lock-free.
/// </summary>
internal sealed class IngestAdmission(int maxRequests, long maxBytes)
{
    private int _requests;
    private long _bytes;

    /// <summary>Most requests admitted at once.</summary>
    public int MaxRequests { get; } = maxRequests;

    /// <summary>The byte budget.</summary>
    public long MaxBytes { get; } = maxBytes;

    /// <summary>Requests admitted now.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Bytes of the budget taken now.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Admits one request; false (nothing taken) when <see cref="MaxRequests"/> are in progress. Pair a true with <see cref="Exit"/>.</summary>
    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _requests) <= MaxRequests)
        {
            HttpIngestMetrics.SetAdmission(Requests, Bytes);
            return true;
        }

        Interlocked.Decrement(ref _requests);
        return false;
    }

    /// <summary>Ends a request admitted by <see cref="TryEnter"/>.</summary>
    public void Exit() => HttpIngestMetrics.SetAdmission(Interlocked.Decrement(ref _requests), Bytes);

    /// <summary>Takes <paramref name="bytes"/> from the budget; false (nothing taken) when they do not fit.</summary>
    public bool TryTake(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        while (true)
        {
            var current = Interlocked.Read(ref _bytes);
            if (current + bytes > MaxBytes)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _bytes, current + bytes, current) == current)
            {
                HttpIngestMetrics.SetAdmission(Requests, current + bytes);
                return true;
            }
        }
    }

    /// <summary>Gives back bytes taken with <see cref="TryTake"/>.</summary>
    public void Give(long bytes) => HttpIngestMetrics.SetAdmission(Requests, Interlocked.Add(ref _bytes, -bytes));
}
