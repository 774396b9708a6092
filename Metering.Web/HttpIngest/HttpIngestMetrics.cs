using System.Diagnostics.Metrics;
using Metering.Ledger.Observability;

namespace Metering.Web.HttpIngest;

/// <summary>
/// Metrics of <c>POST /v1/events</c> (docs/operations.md, Metrics). Separate from the engine's
/// <c>metering.records.*</c>: the engine counts the same records again when it consumes them, and adding the edge's
/// counts there would count every record twice.
/// </summary>
internal static class HttpIngestMetrics
{
    private static readonly Meter Meter = new(MeteringMeter.Name, MeteringMeter.Version);
    private static readonly Counter<long> Records = Meter.CreateCounter<long>("metering.ingest.http.records", "{record}", "Records received by POST /v1/events, by receipt status (accepted, duplicate, conflict, rejected) and reason.");
    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("metering.ingest.http.requests", "{request}", "POST /v1/events requests, by response status code.");
    private static readonly Counter<long> DedupUnanswered = Meter.CreateCounter<long>("metering.ingest.http.dedup.unanswered", "{request}", "POST /v1/events Redis dedup lookups that failed or exceeded --ingest-dedup-timeout (their records counted as not seen).");
    private static long _inflight;
    private static long _admittedRequests;
    private static long _bufferedBytes;

    static HttpIngestMetrics()
    {
        Meter.CreateObservableGauge("metering.ingest.http.inflight", () => Volatile.Read(ref _inflight), "{record}", "Records produced by POST /v1/events and not yet acknowledged by Kafka.");
        Meter.CreateObservableGauge("metering.ingest.http.admitted", () => Volatile.Read(ref _admittedRequests), "{request}", "POST /v1/events requests admitted and not yet answered (bound: --ingest-max-concurrent-requests).");
        Meter.CreateObservableGauge("metering.ingest.http.buffered", () => Volatile.Read(ref _bufferedBytes), "By", "Bytes of the admission budget held by POST /v1/events bodies being read or produced (bound: --ingest-max-buffered-bytes).");
    }

    public static void Record(string status, string? reason, long n)
    {
        if (n > 0)
        {
            Records.Add(n, new KeyValuePair<string, object?>("status", status), new KeyValuePair<string, object?>("reason", reason ?? ""));
        }
    }

    public static void Request(int statusCode) => Requests.Add(1, new KeyValuePair<string, object?>("code", statusCode));

    public static void DedupLookupUnanswered() => DedupUnanswered.Add(1);

    public static void SetInflight(long records) => Volatile.Write(ref _inflight, records);

    public static void SetAdmission(long requests, long bytes)
    {
        Volatile.Write(ref _admittedRequests, requests);
        Volatile.Write(ref _bufferedBytes, bytes);
    }
}
