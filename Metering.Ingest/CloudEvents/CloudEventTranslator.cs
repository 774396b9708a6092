using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using Metering.Aggregates.Records;

namespace Metering.Ingest.CloudEvents;

/// <summary>
/// Turns a CloudEvent into the native usage record it stands for (docs/usage-records.md), by the
/// <see cref="EventMapping"/>. The record is then admitted by the one admission rule
/// (<see cref="Aggregates.Admission.RecordAdmission"/>) like any native record: this type decides only what the
/// mapping decides (the type is mapped, the mapped values exist and have a usable JSON type); every rule on the
/// values themselves (identifier rules, exact decimal quantity, RFC 3339 time, dimension limits) is the native
/// parser's. Not thread-safe: one instance per decoding thread or request (it reuses its output buffer).
/// </summary>
public sealed class CloudEventTranslator
{
    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = false };

    private readonly ArrayBufferWriter<byte> _buffer = new(512);

    /// <summary>Creates a translator for <paramref name="mapping"/>.</summary>
    public CloudEventTranslator(EventMapping mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        Mapping = mapping;
    }

    /// <summary>The mapping.</summary>
    public EventMapping Mapping { get; }

    /// <summary>
    /// Translates <paramref name="ev"/>. Returns <see cref="RejectReason.None"/> and the native record's bytes in
    /// <paramref name="record"/> (valid until the next call), or the reason and a detail naming the event and the
    /// mapped value: <c>unmapped_event_type</c>, <c>missing_field</c> (a mapped account or quantity, or the time,
    /// is absent), <c>invalid_quantity</c> / <c>invalid_field</c> / <c>invalid_dimensions</c> (a mapped value of a
    /// JSON type that cannot be one).
    /// </summary>
    public RejectReason Translate(CloudEvent ev, out ReadOnlyMemory<byte> record, out string detail)
    {
        ArgumentNullException.ThrowIfNull(ev);
        record = default;
        detail = "";
        if (!Mapping.TryGet(ev.Type, out var mapping))
        {
            detail = $"{ev.Name}: type '{ev.Type}' is not in the event mapping";
            return RejectReason.UnmappedEventType;
        }

        if (ev.Time is null)
        {
            detail = $"{ev.Name}: no 'time' attribute; usage is metered by event time, so the event must carry one (RFC 3339)";
            return RejectReason.MissingField;
        }

        if (!mapping.Account.TryResolve(ev, out var account))
        {
            detail = Missing(ev, "account", mapping.Account);
            return RejectReason.MissingField;
        }

        if (!TextOf(account, out var accountText))
        {
            detail = $"{ev.Name}: the account ({mapping.Account.Describe()}) must be a string or a number, got {Kind(account)}";
            return RejectReason.InvalidField;
        }

        if (!mapping.Quantity.TryResolve(ev, out var quantity))
        {
            detail = Missing(ev, "quantity", mapping.Quantity);
            return RejectReason.MissingField;
        }

        if (quantity.ValueKind is not (JsonValueKind.Number or JsonValueKind.String))
        {
            detail = $"{ev.Name}: the quantity ({mapping.Quantity.Describe()}) must be a JSON number or a decimal string, got {Kind(quantity)}";
            return RejectReason.InvalidQuantity;
        }

        _buffer.ResetWrittenCount();
        using var writer = new Utf8JsonWriter(_buffer, WriterOptions);
        writer.WriteStartObject();
        writer.WriteString("id"u8, CloudEventIds.Of(ev.Source, ev.Id));
        writer.WriteString("account"u8, accountText);
        writer.WriteString("sku"u8, mapping.Sku);
        writer.WritePropertyName("quantity"u8);
        if (quantity.ValueKind == JsonValueKind.Number)
        {
            // The number's own digits: never through a double, so 0.1 stays exactly 0.1.
            writer.WriteRawValue(quantity.GetRawText(), skipInputValidation: true);
        }
        else
        {
            writer.WriteStringValue(quantity.GetString());
        }

        writer.WriteString("time"u8, ev.Time);
        if (mapping.Dimensions.Count > 0)
        {
            writer.WriteStartObject("dimensions"u8);
            foreach (var (name, source) in mapping.Dimensions)
            {
                // An absent dimension is left out (as a native record without it), not an error.
                if (!source.TryResolve(ev, out var value))
                {
                    continue;
                }

                if (!TextOf(value, out var text))
                {
                                        detail = $"{ev.Name}: dimension '{name}' ({source.Describe()}) must be a string, a number or a boolean, got {Kind(value)}";
                    return RejectReason.InvalidDimensions;
                }

                writer.WriteString(name, text);
            }

            writer.WriteEndObject();
        }

        writer.WriteEndObject();
        writer.Flush();
        record = _buffer.WrittenMemory;
        return RejectReason.None;
    }

    private static string Missing(CloudEvent ev, string what, ValueSource source) =>
        source.Attribute is null && ev.DataProblem is { } problem
            ? $"{ev.Name}: the {what} is mapped from {source.Describe()}, but {problem}"
            : $"{ev.Name}: the {what} is mapped from {source.Describe()}, which the event does not have";

    // Strings as they are; numbers by their own digits and booleans as true/false (an extension attribute or a
    // status code in data); objects, arrays and null have no text.
    private static bool TextOf(JsonElement value, out string text)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                text = value.GetString()!;
                return true;
            case JsonValueKind.Number:
                text = value.GetRawText();
                return true;
            case JsonValueKind.True:
                text = "true";
                return true;
            case JsonValueKind.False:
                text = "false";
                return true;
            default:
                text = "";
                return false;
        }
    }

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Null => "null",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => value.ValueKind.ToString().ToLowerInvariant(),
    };
}
