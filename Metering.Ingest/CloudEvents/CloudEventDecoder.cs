using System.Buffers;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Metering.Aggregates.Records;

namespace Metering.Ingest.CloudEvents;

/// <summary>
/// Reads CloudEvents in the content modes the engine and the HTTP edge take (docs/cloudevents.md) and translates each
/// into its native usage record with a <see cref="CloudEventTranslator"/>: structured mode (one event as a JSON
/// object), and Kafka binary mode (the attributes in <c>ce_</c> headers, <c>content-type</c> as
/// <c>datacontenttype</c>, the value as <c>data</c>), which is first written in its structured form so that one
/// reader checks both. Not thread-safe: one instance per decoding thread or request.
/// </summary>
public sealed class CloudEventDecoder(EventMapping mapping)
{
    /// <summary>The media type of structured mode.</summary>
    public const string StructuredMediaType = "application/cloudevents+json";

    /// <summary>The media type of batch mode (HTTP only: the Kafka binding defines no batch mode).</summary>
    public const string BatchMediaType = "application/cloudevents-batch+json";

    private const string HeaderPrefix = "ce_";

    private readonly CloudEventTranslator _translator = new(mapping);
    private readonly ArrayBufferWriter<byte> _structured = new(1024);

    /// <summary>The mapping events are translated by.</summary>
    public EventMapping Mapping => _translator.Mapping;

    /// <summary>Classifies a Kafka message by its headers (null: no headers, a native record).</summary>
    public static KafkaContentMode ModeOf(Headers? headers)
    {
        if (headers is null || headers.Count == 0)
        {
            return KafkaContentMode.Native;
        }

        for (var i = 0; i < headers.Count; i++)
        {
            var header = headers[i];
            if (header.Key == HeaderPrefix + "specversion")
            {
                return KafkaContentMode.Binary;
            }

            if (header.Key.Equals("content-type", StringComparison.OrdinalIgnoreCase))
            {
                var type = Encoding.UTF8.GetString(header.GetValueBytes() ?? []);
                var media = type.Split(';', 2)[0].Trim();
                if (media.Equals(StructuredMediaType, StringComparison.OrdinalIgnoreCase))
                {
                    return KafkaContentMode.Structured;
                }

                if (media.Equals(BatchMediaType, StringComparison.OrdinalIgnoreCase))
                {
                    return KafkaContentMode.Batch;
                }
            }
        }

        return KafkaContentMode.Native;
    }

    /// <summary>
    /// Translates one structured-mode event (a JSON object). Returns <see cref="RejectReason.None"/> and the native
    /// record (valid until the next call), or the reason and a detail: <c>malformed_json</c>, <c>invalid_utf8</c>,
    /// <c>invalid_cloudevent</c>, or the translator's reasons.
    /// </summary>
    public RejectReason Structured(ReadOnlySpan<byte> json, out ReadOnlyMemory<byte> record, out string detail)
    {
        record = default;
        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            detail = "the event is not valid UTF-8";
            return RejectReason.InvalidUtf8;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            detail = e.Message;
            return RejectReason.MalformedJson;
        }

        using (document)
        {
            var reason = CloudEvent.TryRead(document.RootElement, out var ev, out detail);
            if (reason != RejectReason.None)
            {
                return reason;
            }

            using (ev)
            {
                return _translator.Translate(ev!, out record, out detail);
            }
        }
    }

    /// <summary>
    /// Translates a Kafka message of <paramref name="mode"/> (<see cref="ModeOf"/>, not <see cref="KafkaContentMode.Native"/>).
    /// Binary mode: every <c>ce_</c> header is an attribute (UTF-8 text), <c>content-type</c> is
    /// <c>datacontenttype</c>, and the value is <c>data</c> (JSON when the content type is JSON or absent).
    /// </summary>
    public RejectReason Kafka(KafkaContentMode mode, Headers? headers, ReadOnlySpan<byte> value, out ReadOnlyMemory<byte> record, out string detail)
    {
        record = default;
        switch (mode)
        {
            case KafkaContentMode.Structured:
                return Structured(value, out record, out detail);
            case KafkaContentMode.Batch:
                detail = "content-type application/cloudevents-batch+json: the Kafka protocol binding has no batch mode; send one event per message";
                return RejectReason.InvalidCloudEvent;
            case KafkaContentMode.Binary:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "a native record is not a CloudEvent");
        }

        _structured.ResetWrittenCount();
        string? contentType = null;
        using (var writer = new Utf8JsonWriter(_structured))
        {
            writer.WriteStartObject();
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < headers!.Count; i++)
            {
                var header = headers[i];
                var bytes = header.GetValueBytes() ?? [];
                if (header.Key.Equals("content-type", StringComparison.OrdinalIgnoreCase))
                {
                    if (!System.Text.Unicode.Utf8.IsValid(bytes))
                    {
                        detail = "header content-type is not valid UTF-8";
                        return RejectReason.InvalidCloudEvent;
                    }

                    contentType = Encoding.UTF8.GetString(bytes);
                    writer.WriteString("datacontenttype", contentType);
                    continue;
                }

                if (!header.Key.StartsWith(HeaderPrefix, StringComparison.Ordinal))
                {
                    continue; // other headers (tracing, the producer's own) are no attributes
                }

                var name = header.Key[HeaderPrefix.Length..];
                if (!CloudEvent.IsAttributeName(name) || name is "datacontenttype" or "data" or "data_base64")
                {
                    detail = $"header '{header.Key}' does not name a valid attribute (1-20 of a-z and 0-9; datacontenttype is the content-type header)";
                    return RejectReason.InvalidCloudEvent;
                }

                if (!names.Add(name))
                {
                    detail = $"header '{header.Key}' appears twice";
                    return RejectReason.InvalidCloudEvent;
                }

                if (!System.Text.Unicode.Utf8.IsValid(bytes))
                {
                    detail = $"header '{header.Key}' is not valid UTF-8";
                    return RejectReason.InvalidCloudEvent;
                }

                writer.WriteString(name, bytes);
            }

            if (!value.IsEmpty)
            {
                if (contentType is null || CloudEvent.IsJsonContentType(contentType))
                {
                    if (!System.Text.Unicode.Utf8.IsValid(value))
                    {
                        detail = "the message value (data) is not valid UTF-8 JSON";
                        return RejectReason.InvalidUtf8;
                    }

                    writer.WritePropertyName("data");
                    try
                    {
                        writer.WriteRawValue(value); // validates: one JSON value
                    }
                    catch (JsonException e)
                    {
                        detail = $"the message value (data, content type {contentType ?? "none, so JSON"}) is not JSON: {e.Message}";
                        return RejectReason.MalformedJson;
                    }
                    catch (ArgumentException e)
                    {
                        detail = $"the message value (data, content type {contentType ?? "none, so JSON"}) is not JSON: {e.Message}";
                        return RejectReason.MalformedJson;
                    }
                }
                else
                {
                    writer.WriteBase64String("data_base64", value);
                }
            }

            writer.WriteEndObject();
        }

        return Structured(_structured.WrittenSpan, out record, out detail);
    }
}
