using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

using Metering.Web.HttpIngest;

namespace Metering.Web.Api;

/// <summary>
/// <c>POST /v1/events</c>: usage records over HTTP into the usage topic (docs/api.md, "Ingesting usage over HTTP").
/// The body is framed and parsed as it arrives from <see cref="HttpRequest.BodyReader"/>; nothing is produced until
/// the whole body was read within its limits, and the answer comes only after Kafka acknowledged every accepted record.
/// </summary>
internal static class IngestEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/events", Ingest)
            .RequireAuthorization(ApiScopes.IngestWrite)
            .WithName("IngestEvents")
            .WithTags("ingest")
            .WithSummary("Usage records into the usage topic: NDJSON (application/x-ndjson) or a JSON array (application/json), or CloudEvents 1.0 mapped by --event-mapping (application/cloudevents+json: one event; application/cloudevents-batch+json: an array; docs/cloudevents.md); per-record receipts once Kafka acknowledged them (scope ingest:write, or an API key).")
            .Accepts<IngestBody>("application/x-ndjson", "application/json", Metering.Ingest.CloudEvents.CloudEventDecoder.StructuredMediaType, Metering.Ingest.CloudEvents.CloudEventDecoder.BatchMediaType)
            .Produces<IngestResponse>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status408RequestTimeout)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
    }

    private static readonly JsonEncodedText IndexName = JsonEncodedText.Encode("index");
    private static readonly JsonEncodedText StatusName = JsonEncodedText.Encode("status");
    private static readonly JsonEncodedText ReasonName = JsonEncodedText.Encode("reason");
    private static readonly JsonEncodedText DetailName = JsonEncodedText.Encode("detail");
    private static readonly JsonEncodedText AcceptedValue = JsonEncodedText.Encode(IngestRequest.Accepted);
    private static readonly JsonEncodedText DuplicateValue = JsonEncodedText.Encode(IngestRequest.Duplicate);

    // A chunked body (no Content-Length) takes the admission budget in steps of this as it arrives.
    private const long ChunkedBudgetStep = 1 << 20;

    private static async Task Ingest(HttpContext http, ApiOptions api, IngestAdmission admission)
    {
        var status = await Handle(http, api, admission).ConfigureAwait(false);
        HttpIngestMetrics.Request(status);
    }

    private static async Task<int> Handle(HttpContext http, ApiOptions api, IngestAdmission admission)
    {
        if (api.HttpIngest is not { } service)
        {
            return await Problem(http, 503, "ingest not configured", "urn:metering:problem:unavailable", "this server does not ingest: start metering serve with --bootstrap-servers").ConfigureAwait(false);
        }

        var options = service.Options;
        var cloudEvents = CloudEventTarget.ModeOf(http.Request.ContentType);
        if (cloudEvents is not null && api.EventMapping is null)
        {
            return await Problem(http, 415, "unsupported media type", "urn:metering:problem:unsupported-media-type", "this server reads no CloudEvents: start metering serve with --event-mapping FILE (docs/cloudevents.md)").ConfigureAwait(false);
        }

        if ((cloudEvents is null ? FormatOf(http.Request.ContentType) : BodyFormat.JsonArray) is not { } format)
        {
            return await Problem(http, 415, "unsupported media type", "urn:metering:problem:unsupported-media-type", "the body must be application/x-ndjson (one record per line), application/json (an array of records), application/cloudevents+json or application/cloudevents-batch+json").ConfigureAwait(false);
        }

        if (http.Request.ContentLength > options.MaxBodyBytes)
        {
            return await TooLarge(http, $"the body is {http.Request.ContentLength} bytes; the limit is {options.MaxBodyBytes}").ConfigureAwait(false);
        }

        // Admission before reading: a request that cannot be held is refused while its body is still on the wire.
        if (!admission.TryEnter())
        {
            ApiMetrics.Rejected(ApiMetrics.IngestRequestsFull);
            return await Overloaded(http, options, $"{admission.MaxRequests} ingest requests are in progress (--ingest-max-concurrent-requests); retry after {options.RetryAfterSeconds} s").ConfigureAwait(false);
        }

        var held = new StrongBox<long>(Math.Min(http.Request.ContentLength ?? ChunkedBudgetStep, options.MaxBodyBytes));
        try
        {
            if (!admission.TryTake(held.Value))
            {
                var wanted = held.Value;
                held.Value = 0;
                ApiMetrics.Rejected(ApiMetrics.IngestBytesFull);
                return await Overloaded(http, options, $"the bodies being read hold {admission.Bytes} of {admission.MaxBytes} bytes (--ingest-max-buffered-bytes); this one needs {wanted}; retry after {options.RetryAfterSeconds} s").ConfigureAwait(false);
            }

            return await ReadAndProduce(http, service, format, admission, held, cloudEvents, api.EventMapping).ConfigureAwait(false);
        }
        finally
        {
            admission.Give(held.Value);
            admission.Exit();
        }
    }

    private static async Task<int> ReadAndProduce(HttpContext http, HttpIngestService service, BodyFormat format, IngestAdmission admission, StrongBox<long> held,
        CloudEventBodyMode? cloudEvents = null, Metering.Ingest.CloudEvents.EventMapping? mapping = null)
    {
        var options = service.Options;

        // The limit is ours (counted below, answered as a problem), not Kestrel's 30 MB default.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        var request = new IngestRequest(service, http.User);
        var framer = new RecordFramer(format, options.Decoder.MaxLineBytes);
        // CloudEvents are framed as array elements (a structured body is one element of an array around it) and
        // translated to native records before the request admits them.
        IFramedRecordTarget target = cloudEvents is null ? request : new CloudEventTarget(request, mapping!, cloudEvents.Value);
        if (cloudEvents == CloudEventBodyMode.Structured)
        {
            framer.Feed("["u8, target);
        }

        var reader = http.Request.BodyReader;
        long bytes = 0;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(http.RequestAborted).ConfigureAwait(false);
                var buffer = result.Buffer;
                bytes += buffer.Length;
                if (bytes > options.MaxBodyBytes)
                {
                    await reader.CompleteAsync().ConfigureAwait(false);
                    return await TooLarge(http, $"the body exceeds the limit of {options.MaxBodyBytes} bytes").ConfigureAwait(false);
                }

                if (bytes > held.Value)
                {
                    // Only a chunked body gets here (Kestrel ends a Content-Length body at its length).
                    var more = Math.Min(Math.Max(ChunkedBudgetStep, bytes - held.Value), options.MaxBodyBytes - held.Value);
                    if (!admission.TryTake(more))
                    {
                        await reader.CompleteAsync().ConfigureAwait(false);
                        ApiMetrics.Rejected(ApiMetrics.IngestBytesFull);
                        return await Overloaded(http, options, $"the bodies being read hold {admission.Bytes} of {admission.MaxBytes} bytes (--ingest-max-buffered-bytes); send a Content-Length or retry after {options.RetryAfterSeconds} s; nothing of this request was produced").ConfigureAwait(false);
                    }

                    held.Value += more;
                }

                var framed = framer.Feed(buffer, target);
                reader.AdvanceTo(buffer.End);
                if (request.TooMany)
                {
                    return await TooLarge(http, $"the body holds more than {options.MaxRecords} records").ConfigureAwait(false);
                }

                if (!framed)
                {
                    return await Problem(http, 400, "malformed body", "urn:metering:problem:malformed-body", framer.Error!).ConfigureAwait(false);
                }

                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            // Kestrel's MinRequestBodyDataRate: the body arrived too slowly. Nothing was produced yet.
            ApiMetrics.Rejected(ApiMetrics.BodyTimeout);
            return await TryProblem(http, 408, "request body timeout", "urn:metering:problem:body-timeout",
                $"the body arrived slower than the server's minimum data rate (after {bytes} bytes); nothing of this request was produced, send it again").ConfigureAwait(false);
        }
        catch (BadHttpRequestException e)
        {
            // A body that ended before its Content-Length, or broken chunked framing. Nothing was produced yet.
            ApiMetrics.Rejected(ApiMetrics.BodyIncomplete);
            var detail = http.Request.ContentLength is { } length
                ? $"the body ended after {bytes} of its {length} bytes (Content-Length)"
                : $"the body is not valid HTTP framing after {bytes} bytes ({e.Message})";
            return await TryProblem(http, e.StatusCode, "incomplete body", "urn:metering:problem:incomplete-body", detail + "; nothing of this request was produced, send it again").ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException || (e is OperationCanceledException && http.RequestAborted.IsCancellationRequested))
        {
            // The connection broke while the body was read: there is nobody to answer, and nothing was produced.
            ApiMetrics.Rejected(ApiMetrics.BodyAborted);
            return await TryProblem(http, 400, "incomplete body", "urn:metering:problem:incomplete-body", $"the connection broke after {bytes} bytes of the body; nothing of this request was produced").ConfigureAwait(false);
        }

        if ((cloudEvents == CloudEventBodyMode.Structured && !framer.Feed("]"u8, target)) || !framer.Complete(target))
        {
            return await Problem(http, 400, "malformed body", "urn:metering:problem:malformed-body", framer.Error!).ConfigureAwait(false);
        }

        if (target is CloudEventTarget { Error: { } modeError })
        {
            return await Problem(http, 400, "malformed body", "urn:metering:problem:malformed-body", modeError + "; nothing of this request was produced").ConfigureAwait(false);
        }

        if (request.TooMany)
        {
            return await TooLarge(http, $"the body holds more than {options.MaxRecords} records").ConfigureAwait(false);
        }

        if (request.Count == 0)
        {
            return await Problem(http, 400, "no records", "urn:metering:problem:malformed-body", "the body holds no records").ConfigureAwait(false);
        }

        var reserved = request.PendingCount;
        if (!service.TryReserve(reserved))
        {
            http.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return await Problem(http, 429, "too many records in flight", "urn:metering:problem:overloaded",
                $"{service.Inflight} records are waiting for Kafka (limit {options.MaxInflightRecords}); retry after {options.RetryAfterSeconds} s").ConfigureAwait(false);
        }

        try
        {
            await request.DropSeenAsync().ConfigureAwait(false);
            var delivered = await request.ProduceAsync().ConfigureAwait(false);
            if (delivered.Length > 0)
            {
                // Only now, after Kafka acknowledged them: a mark never precedes the durable write. Bounded wait, so a
                // slow Redis delays no answer by much (RedisDedup keeps failed marks in its backlog and replays them).
                var mark = service.MarkAcceptedAsync(delivered);
                await Task.WhenAny(mark, Task.Delay(TimeSpan.FromMilliseconds(500))).ConfigureAwait(false);
            }
        }
        finally
        {
            service.Release(reserved);
        }

        return await Answer(http, request, service).ConfigureAwait(false);
    }

    private static Task<int> Overloaded(HttpContext http, HttpIngestOptions options, string detail)
    {
        http.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problem(http, 429, "too many ingest requests", "urn:metering:problem:overloaded", detail);
    }

    // The answer to a broken body: the client may already be gone, and failing to tell it is no error of ours.
    private static async Task<int> TryProblem(HttpContext http, int status, string title, string type, string detail)
    {
        if (http.Response.HasStarted)
        {
            return status;
        }

        try
        {
            return await Problem(http, status, title, type, detail).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            return status;
        }
    }

    private static async Task<int> Answer(HttpContext http, IngestRequest request, HttpIngestService service)
    {
        int accepted = 0, duplicate = 0, rejected = 0, notAllowed = 0, unavailable = 0, overloaded = 0;
        foreach (var r in request.Receipts)
        {
            switch (r.Status)
            {
                case IngestRequest.Accepted:
                    accepted++;
                    break;
                case IngestRequest.Duplicate:
                    duplicate++;
                    break;
                default:
                    rejected++;
                    notAllowed += r.Reason == IngestRequest.AccountNotAllowed ? 1 : 0;
                    unavailable += r.Reason == IngestRequest.KafkaUnavailable ? 1 : 0;
                    overloaded += r.Reason == IngestRequest.Overloaded ? 1 : 0;
                    HttpIngestMetrics.Record(r.Status, r.Reason, 1);
                    break;
            }
        }

        // Counted once per request, not per record: a tagged counter's Add costs more than admitting a record.
        HttpIngestMetrics.Record(IngestRequest.Accepted, null, accepted);
        HttpIngestMetrics.Record(IngestRequest.Duplicate, null, duplicate);

        var total = request.Count;
        int status;
        (string Title, string Type, string Detail)? problem = null;
        if (notAllowed == total)
        {
            status = 403;
            problem = ("forbidden", "urn:metering:problem:foreign-account", "every record is of an account the credentials may not write");
        }
        else if (accepted == 0 && overloaded > 0 && unavailable == 0)
        {
            status = 429;
            http.Response.Headers.RetryAfter = service.Options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            problem = ("producer queue full", "urn:metering:problem:overloaded", "the Kafka producer's queue is full; retry later");
        }
        else if (accepted == 0 && unavailable + overloaded > 0)
        {
            status = 503;
            problem = ("kafka unavailable", "urn:metering:problem:unavailable", $"{unavailable + overloaded} records were not acknowledged by Kafka; none was accepted");
        }
        else
        {
            status = 202;
        }

        http.Response.StatusCode = status;
        http.Response.ContentType = problem is null ? "application/json" : "application/problem+json";
        var writer = new Utf8JsonWriter(http.Response.BodyWriter);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartObject();
            if (problem is { } p)
            {
                writer.WriteString("type", p.Type);
                writer.WriteString("title", p.Title);
                writer.WriteNumber("status", status);
                writer.WriteString("detail", p.Detail);
            }

            writer.WriteNumber("records", total);
            writer.WriteNumber("accepted", accepted);
            writer.WriteNumber("duplicate", duplicate);
            writer.WriteNumber("rejected", rejected);
            writer.WriteStartArray("receipts");
            for (var i = 0; i < request.Receipts.Count; i++)
            {
                var r = request.Receipts[i];
                writer.WriteStartObject();
                writer.WriteNumber(IndexName, i);
                // The common statuses are encoded once: a receipt per record is most of the answer's bytes.
                writer.WriteString(StatusName, r.Status switch
                {
                    IngestRequest.Accepted => AcceptedValue,
                    IngestRequest.Duplicate => DuplicateValue,
                    _ => JsonEncodedText.Encode(r.Status),
                });
                if (r.Reason is not null)
                {
                    writer.WriteString(ReasonName, r.Reason);
                }

                if (r.Detail is not null)
                {
                    writer.WriteString(DetailName, r.Detail);
                }

                writer.WriteEndObject();
                if (writer.BytesPending > 16 * 1024)
                {
                    await writer.FlushAsync().ConfigureAwait(false);
                }
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            await writer.FlushAsync().ConfigureAwait(false);
        }

        return status;
    }

    private static BodyFormat? FormatOf(string? contentType)
    {
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var media))
        {
            return null;
        }

        var type = media.MediaType;
        if (type.Equals("application/x-ndjson", StringComparison.OrdinalIgnoreCase) || type.Equals("application/jsonl", StringComparison.OrdinalIgnoreCase))
        {
            return BodyFormat.Ndjson;
        }

        return type.Equals("application/json", StringComparison.OrdinalIgnoreCase) ? BodyFormat.JsonArray : null;
    }

    private static Task<int> TooLarge(HttpContext http, string detail) =>
        Problem(http, 413, "request too large", "urn:metering:problem:too-large", detail + "; nothing of this request was produced");

    private static async Task<int> Problem(HttpContext http, int status, string title, string type, string detail)
    {
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/problem+json";
        var writer = new Utf8JsonWriter(http.Response.BodyWriter);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WriteString("title", title);
            writer.WriteNumber("status", status);
            writer.WriteString("detail", detail);
            writer.WriteEndObject();
            await writer.FlushAsync().ConfigureAwait(false);
        }

        return status;
    }

    /// <summary>For the OpenAPI document only: one usage record (docs/usage-records.md); the body is NDJSON of these or an array of them.</summary>
    internal sealed record IngestBody(string Id, string Account, string Sku, string Quantity, DateTimeOffset Time, IReadOnlyDictionary<string, string>? Dimensions);
}
