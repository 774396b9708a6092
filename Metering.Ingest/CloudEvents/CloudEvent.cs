using System.Net.Http.Headers;
using System.Text.Json;
using Metering.Aggregates.Records;

namespace Metering.Ingest.CloudEvents;

/// <summary>
/// One CloudEvents 1.0 event read from its JSON form (structured content mode; the Kafka binary mode is turned into
/// this form first, <see cref="CloudEventDecoder"/>): the required attributes checked, the extension attributes kept,
/// <c>data</c> as JSON when its content type is JSON. The elements point into the caller's
/// <see cref="JsonDocument"/>: valid while it is. docs/cloudevents.md lists the rules.
/// </summary>
public sealed class CloudEvent : IDisposable
{
    private readonly Dictionary<string, JsonElement> _attributes;
    private readonly JsonDocument? _decodedData;

    private CloudEvent(Dictionary<string, JsonElement> attributes, JsonElement? data, JsonDocument? decodedData, string? dataProblem)
    {
        _attributes = attributes;
        Data = data;
        _decodedData = decodedData;
        DataProblem = dataProblem;
        Id = attributes["id"].GetString()!;
        Source = attributes["source"].GetString()!;
        Type = attributes["type"].GetString()!;
        Time = attributes.TryGetValue("time", out var time) ? time.GetString() : null;
    }

    /// <summary>The <c>id</c> attribute (unique per <see cref="Source"/>).</summary>
    public string Id { get; }

    /// <summary>The <c>source</c> attribute (a URI-reference).</summary>
    public string Source { get; }

    /// <summary>The <c>type</c> attribute: what the mapping is chosen by.</summary>
    public string Type { get; }

    /// <summary>The <c>time</c> attribute as sent (RFC 3339), or null when absent.</summary>
    public string? Time { get; }

    /// <summary><c>data</c> as JSON (also <c>data_base64</c> of a JSON content type, decoded), or null when absent or not JSON.</summary>
    public JsonElement? Data { get; }

    /// <summary>Why <see cref="Data"/> is null although the event carries data (its content type is not JSON), else null.</summary>
    public string? DataProblem { get; }

    /// <summary>Short text naming the event in a detail: <c>CloudEvent 'id' from 'source'</c>.</summary>
    public string Name => $"CloudEvent '{Id}' from '{Source}'";

    /// <summary>True when <paramref name="name"/> is a valid attribute name: 1-20 of a-z and 0-9 (the spec's rule).</summary>
    public static bool IsAttributeName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or > 20)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= '0' and <= '9')))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True for a JSON media type (<c>application/json</c>, <c>text/json</c>, any <c>+json</c>; parameters ignored).</summary>
    public static bool IsJsonContentType(string? contentType)
    {
        if (contentType is null || !MediaTypeHeaderValue.TryParse(contentType, out var media) || media.MediaType is not { } type)
        {
            return false;
        }

        return type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.Equals("text/json", StringComparison.OrdinalIgnoreCase) ||
            type.EndsWith("+json", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>An attribute's value (a required, optional or extension attribute); false when absent.</summary>
    public bool TryGetAttribute(string name, out JsonElement value) => _attributes.TryGetValue(name, out value);

    /// <summary>
    /// Reads an event from its JSON form. Returns <see cref="RejectReason.None"/> and the event, or
    /// <see cref="RejectReason.InvalidCloudEvent"/> and a detail naming the attribute (never throws for bad input).
    /// </summary>
    public static RejectReason TryRead(JsonElement json, out CloudEvent? ev, out string detail)
    {
        ev = null;
        detail = "";
        if (json.ValueKind != JsonValueKind.Object)
        {
            detail = "a CloudEvent in structured mode must be one JSON object";
            return RejectReason.InvalidCloudEvent;
        }

        var attributes = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        JsonElement? data = null, dataBase64 = null;
        foreach (var member in json.EnumerateObject())
        {
            var name = member.Name;
            if (name is "data" or "data_base64")
            {
                if ((name == "data" ? data : dataBase64) is not null)
                {
                    detail = $"member '{name}' appears twice";
                    return RejectReason.InvalidCloudEvent;
                }

                if (name == "data")
                {
                    data = member.Value;
                }
                else
                {
                    dataBase64 = member.Value;
                }

                continue;
            }

            if (!IsAttributeName(name))
            {
                detail = $"'{name}' is not a valid attribute name (1-20 of a-z and 0-9)";
                return RejectReason.InvalidCloudEvent;
            }

            if (attributes.ContainsKey(name))
            {
                detail = $"attribute '{name}' appears twice";
                return RejectReason.InvalidCloudEvent;
            }

            var value = member.Value;
            if (value.ValueKind == JsonValueKind.Null)
            {
                continue; // a null attribute is an absent one (JSON event format)
            }

            var context = name is "specversion" or "id" or "source" or "type" or "subject" or "time" or "datacontenttype" or "dataschema";
            if (context ? value.ValueKind != JsonValueKind.String : value.ValueKind is not (JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False))
            {
                detail = context
                    ? $"attribute '{name}' must be a string"
                    : $"extension attribute '{name}' must be a string, a number or a boolean";
                return RejectReason.InvalidCloudEvent;
            }

            attributes.Add(name, value);
        }

        if (!attributes.TryGetValue("specversion", out var version))
        {
            detail = "required attribute 'specversion' is missing";
            return RejectReason.InvalidCloudEvent;
        }

        if (version.GetString() != "1.0")
        {
            detail = $"specversion is '{version.GetString()}'; only CloudEvents 1.0 (\"1.0\") is read";
            return RejectReason.InvalidCloudEvent;
        }

        foreach (var required in (ReadOnlySpan<string>)["id", "source", "type"])
        {
            if (!attributes.TryGetValue(required, out var value) || value.GetString() is not { Length: > 0 })
            {
                detail = $"required attribute '{required}' is missing or empty";
                return RejectReason.InvalidCloudEvent;
            }
        }

        if (data is not null && dataBase64 is not null)
        {
            detail = "an event carries 'data' or 'data_base64', not both";
            return RejectReason.InvalidCloudEvent;
        }

        var contentType = attributes.TryGetValue("datacontenttype", out var ct) ? ct.GetString() : null;
        var isJson = contentType is null || IsJsonContentType(contentType);
        if (dataBase64 is { } encoded)
        {
            if (encoded.ValueKind != JsonValueKind.String || !encoded.TryGetBytesFromBase64(out var bytes))
            {
                detail = "data_base64 must be a base64 string";
                return RejectReason.InvalidCloudEvent;
            }

            if (contentType is null || !IsJsonContentType(contentType))
            {
                ev = new CloudEvent(attributes, null, null, $"its data_base64 has content type '{contentType ?? "(none)"}', not JSON, so no JSON path reaches into it");
                return RejectReason.None;
            }

            JsonDocument decoded;
            try
            {
                decoded = JsonDocument.Parse(bytes);
            }
            catch (JsonException e)
            {
                detail = $"data_base64 is declared {contentType} but does not decode to JSON: {e.Message}";
                return RejectReason.InvalidCloudEvent;
            }

            ev = new CloudEvent(attributes, decoded.RootElement, decoded, null);
            return RejectReason.None;
        }

        ev = data is not null && !isJson
            ? new CloudEvent(attributes, null, null, $"its data has content type '{contentType}', not JSON, so no JSON path reaches into it")
            : new CloudEvent(attributes, data, null, null);
        return RejectReason.None;
    }

    /// <summary>Releases data decoded from <c>data_base64</c>, if any.</summary>
    public void Dispose() => _decodedData?.Dispose();
}
