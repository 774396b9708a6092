using System.Diagnostics.Metrics;
using Metering.Ledger.Observability;

namespace Metering.Web.Api;

/// <summary>
/// Requests the API refused before doing their work, by reason (docs/operations.md, "Limits of metering serve"):
/// <c>ambiguous_credentials</c>, <c>rate_limited</c>, <c>ingest_requests_full</c>, <c>ingest_bytes_full</c>,
/// <c>body_timeout</c>, <c>body_incomplete</c>, <c>body_aborted</c>. The set of reasons is fixed. Thread-safe.
/// </summary>
internal static class ApiMetrics
{
    public const string AmbiguousCredentials = "ambiguous_credentials";
    public const string RateLimited = "rate_limited";
    public const string IngestRequestsFull = "ingest_requests_full";
    public const string IngestBytesFull = "ingest_bytes_full";
    public const string BodyTimeout = "body_timeout";
    public const string BodyIncomplete = "body_incomplete";
    public const string BodyAborted = "body_aborted";

    private static readonly Meter Meter = new(MeteringMeter.Name, MeteringMeter.Version);
    private static readonly Counter<long> RejectedRequests = Meter.CreateCounter<long>("metering.api.rejected", "{request}", "API requests refused before their work was done, by reason (ambiguous credentials, rate limit, ingest admission, broken bodies).");

    public static void Rejected(string reason) => RejectedRequests.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
