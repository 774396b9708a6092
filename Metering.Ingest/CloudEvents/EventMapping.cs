using System.Text;
using System.Text.Json;
using Metering.Aggregates.Records;

namespace Metering.Ingest.CloudEvents;

/// <summary>
/// The event mapping (<c>--event-mapping FILE</c>, docs/cloudevents.md): per CloudEvents <c>type</c>, the SKU it
/// meters and where account, quantity and dimensions come from. Read once at start, immutable, thread-safe.
/// <code>
/// {"types": {"com.example.cdn.egress": {"sku": "cdn.egress.bytes", "account": "subject", "quantity": "$.bytes",
///                                       "dimensions": {"region": "$.region", "origin": "source"}}}}
/// </code>
/// </summary>
public sealed class EventMapping
{
    /// <summary>Most dimensions one type may map (the record's own limit).</summary>
    public const int MaxDimensions = 16;

    private readonly Dictionary<string, EventTypeMapping> _types;

    private EventMapping(Dictionary<string, EventTypeMapping> types) => _types = types;

    /// <summary>The mapped types.</summary>
    public IReadOnlyDictionary<string, EventTypeMapping> Types => _types;

    /// <summary>The mapping of <paramref name="type"/>; false when the type is not mapped.</summary>
    public bool TryGet(string type, out EventTypeMapping mapping) => _types.TryGetValue(type, out mapping!);

    /// <summary>Reads and validates a mapping file; a <see cref="FormatException"/> lists every problem with its JSON path.</summary>
    public static EventMapping Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var (mapping, errors) = Validate(File.ReadAllBytes(path));
        return mapping ?? throw new FormatException($"{path}: " + string.Join("; ", errors));
    }

    /// <summary>Validates a mapping; the mapping when there is no problem, else null and every problem with its JSON path.</summary>
    public static (EventMapping? Mapping, IReadOnlyList<MappingError> Errors) Validate(ReadOnlySpan<byte> json)
    {
        var errors = new List<MappingError>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            return (null, [new MappingError("$", "not valid JSON: " + e.Message)]);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, [new MappingError("$", "the mapping must be a JSON object with \"types\"")]);
            }

            var types = new Dictionary<string, EventTypeMapping>(StringComparer.Ordinal);
            var sawTypes = false;
            foreach (var member in root.EnumerateObject())
            {
                if (member.Name != "types")
                {
                    errors.Add(new MappingError($"$.{member.Name}", "unknown member (expected \"types\")"));
                    continue;
                }

                sawTypes = true;
                if (member.Value.ValueKind != JsonValueKind.Object)
                {
                    errors.Add(new MappingError("$.types", "must be an object: CloudEvents type -> its mapping"));
                    continue;
                }

                foreach (var type in member.Value.EnumerateObject())
                {
                    var path = $"$.types[{Quote(type.Name)}]";
                    if (type.Name.Length == 0)
                    {
                        errors.Add(new MappingError(path, "a CloudEvents type must not be empty"));
                    }
                    else if (types.ContainsKey(type.Name))
                    {
                        errors.Add(new MappingError(path, "this type is mapped twice"));
                    }
                    else if (ReadType(type.Name, type.Value, path, errors) is { } mapping)
                    {
                        types.Add(type.Name, mapping);
                    }
                }
            }

            if (!sawTypes)
            {
                errors.Add(new MappingError("$.types", "missing: map at least one CloudEvents type"));
            }
            else if (types.Count == 0 && errors.Count == 0)
            {
                errors.Add(new MappingError("$.types", "empty: map at least one CloudEvents type"));
            }

            return errors.Count == 0 ? (new EventMapping(types), errors) : (null, errors);
        }
    }

    private static EventTypeMapping? ReadType(string type, JsonElement json, string path, List<MappingError> errors)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new MappingError(path, "must be an object with sku, account, quantity and optionally dimensions"));
            return null;
        }

        var before = errors.Count;
        string? sku = null;
        ValueSource? account = null, quantity = null;
        var dimensions = new List<KeyValuePair<string, ValueSource>>();
        foreach (var member in json.EnumerateObject())
        {
            var at = $"{path}.{member.Name}";
            switch (member.Name)
            {
                case "sku":
                    if (member.Value.ValueKind != JsonValueKind.String || member.Value.GetString() is not { Length: > 0 } text)
                    {
                        errors.Add(new MappingError(at, "must be a non-empty string: the SKU the events meter"));
                    }
                    else if (Encoding.UTF8.GetByteCount(text) > 128)
                    {
                        errors.Add(new MappingError(at, "is longer than 128 bytes"));
                    }
                    else if (IdentifierRules.Check(Encoding.UTF8.GetBytes(text)) is { } why)
                    {
                        errors.Add(new MappingError(at, "sku " + why));
                    }
                    else
                    {
                        sku = text;
                    }

                    break;
                case "account":
                    account = ReadSource(member.Value, at, errors);
                    break;
                case "quantity":
                    quantity = ReadSource(member.Value, at, errors);
                    break;
                case "dimensions":
                    ReadDimensions(member.Value, at, dimensions, errors);
                    break;
                default:
                    errors.Add(new MappingError(at, "unknown member (expected sku, account, quantity, dimensions)"));
                    break;
            }
        }

        foreach (var (name, value) in (ReadOnlySpan<(string, object?)>)[("sku", sku), ("account", account), ("quantity", quantity)])
        {
            if (value is null && !json.TryGetProperty(name, out _))
            {
                errors.Add(new MappingError($"{path}.{name}", "missing"));
            }
        }

        return errors.Count == before ? new EventTypeMapping(type, sku!, account!, quantity!, dimensions) : null;
    }

    private static ValueSource? ReadSource(JsonElement json, string path, List<MappingError> errors)
    {
        if (json.ValueKind != JsonValueKind.String)
        {
            errors.Add(new MappingError(path, "must be a string: a JSON path into data such as \"$.bytes\", or an attribute such as \"subject\""));
            return null;
        }

        var source = ValueSource.Parse(json.GetString()!, out var error);
        if (source is null)
        {
            errors.Add(new MappingError(path, error!));
        }

        return source;
    }

    private static void ReadDimensions(JsonElement json, string path, List<KeyValuePair<string, ValueSource>> dimensions, List<MappingError> errors)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new MappingError(path, "must be an object: dimension name -> where its value comes from"));
            return;
        }

        foreach (var member in json.EnumerateObject())
        {
            var at = $"{path}[{Quote(member.Name)}]";
            var key = Encoding.UTF8.GetBytes(member.Name);
            if (key.Length is 0 or > 64 || member.Name.Contains('=', StringComparison.Ordinal) || IdentifierRules.CheckText(key) is not null)
            {
                errors.Add(new MappingError(at, "a dimension name must be 1-64 bytes without '=' or control characters"));
                continue;
            }

            if (dimensions.Count == MaxDimensions)
            {
                errors.Add(new MappingError(at, $"more than {MaxDimensions} dimensions"));
                return;
            }

            if (ReadSource(member.Value, at, errors) is { } source)
            {
                dimensions.Add(new(member.Name, source));
            }
        }
    }

    private static string Quote(string name) => JsonSerializer.Serialize(name);
}
