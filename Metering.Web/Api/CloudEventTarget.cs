using Metering.Aggregates.Records;
using Metering.Ingest.CloudEvents;
using Metering.Web.HttpIngest;
using Microsoft.Net.Http.Headers;

namespace Metering.Web.Api;

/// <summary>
/// Between the framer and an <see cref="IngestRequest"/> for a CloudEvents body: each framed event is read and
/// translated by the mapping (<see cref="CloudEventDecoder"/>) into its native record, which the request then admits
/// exactly as a native one (the one admission rule, dedup, account scope, Kafka). An event the mapping refuses gets
/// its rejected receipt at its index, so receipts stay one per event in body order. One per request.
/// </summary>
internal sealed class CloudEventTarget(IngestRequest request, EventMapping mapping, CloudEventBodyMode mode) : IFramedRecordTarget
{
    private readonly CloudEventDecoder _decoder = new(mapping);
    private int _events;

    /// <summary>Why the body breaks its mode (a structured-mode body with more than one event), else null.</summary>
    public string? Error => mode == CloudEventBodyMode.Structured && _events > 1
        ? $"a structured-mode body ({CloudEventDecoder.StructuredMediaType}) is one event, this one holds {_events}; send several as {CloudEventDecoder.BatchMediaType} (a JSON array)"
        : null;

    /// <summary>The CloudEvents mode of a request's content type, or null when it is not a CloudEvents media type.</summary>
    public static CloudEventBodyMode? ModeOf(string? contentType)
    {
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            return null;
        }

        var type = media.MediaType;
        return type.Equals(CloudEventDecoder.StructuredMediaType, StringComparison.OrdinalIgnoreCase) ? CloudEventBodyMode.Structured
            : type.Equals(CloudEventDecoder.BatchMediaType, StringComparison.OrdinalIgnoreCase) ? CloudEventBodyMode.Batch
            : null;
    }

    public void OnRecord(ReadOnlySpan<byte> record)
    {
        if (++_events > 1 && mode == CloudEventBodyMode.Structured)
        {
            return; // the body is refused as a whole (Error)
        }

        var reason = _decoder.Structured(record, out var native, out var detail);
        if (reason == RejectReason.None)
        {
            request.OnRecord(native.Span);
        }
        else
        {
            request.OnRejected(reason.Code(), detail);
        }
    }

    public void OnOversize(long length)
    {
        if (++_events == 1 || mode == CloudEventBodyMode.Batch)
        {
            request.OnOversize(length);
        }
    }
}
