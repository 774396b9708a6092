using System.Text.Json;

namespace Metering.Rating.PriceBooks;

/// <summary>
/// Finds keys that occur twice in one JSON object. <see cref="JsonDocument"/> accepts them and its lookups see only one
/// of the two, so in a price book a repeated key silently drops a price (<c>"unit_price"</c> twice, a SKU twice under
/// <c>prices</c>). Each repeat is reported at the JSON path of its second occurrence, the way the loader names paths
/// (<c>$.versions[0].prices["cdn.requests"].unit_price</c>). Stateless and thread-safe; the input must be JSON that
/// <see cref="JsonDocument"/> parsed (comments allowed, no trailing commas).
/// </summary>
public static class JsonDuplicateKeyCheck
{
    /// <summary>Every repeated key, in document order; empty when there is none.</summary>
    public static IReadOnlyList<PriceBookError> Find(ReadOnlySpan<byte> json)
    {
        var errors = new List<PriceBookError>();
        var text = json.StartsWith("\uFEFF"u8) ? json[3..] : json;
        var reader = new Utf8JsonReader(text, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        var frames = new Stack<Frame>();
        string? property = null;
        string? propertyPath = null;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.PropertyName:
                    var frame = frames.Peek();
                    property = reader.GetString()!;
                    propertyPath = Member(frame.Path, frame.Name, property);
                    if (!frame.Keys!.TryAdd(property, reader.TokenStartIndex))
                    {
                        var (line, column) = JsonPosition.Of(text, frame.Keys[property]);
                        errors.Add(new PriceBookError(propertyPath,
                            $"duplicate key \"{property}\": the same object already has it at line {line}, column {column}, and a JSON reader keeps only one of the two, silently; remove one"));
                    }

                    break;
                case JsonTokenType.StartObject:
                case JsonTokenType.StartArray:
                    var (path, name) = ValuePath(frames, property, propertyPath);
                    frames.Push(new Frame(path, name, reader.TokenType == JsonTokenType.StartObject ? new Dictionary<string, long>(StringComparer.Ordinal) : null));
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    frames.Pop();
                    break;
                default:
                    ValuePath(frames, property, propertyPath);
                    break;
            }
        }

        return errors;
    }

    // The path of the value that starts now, and the key it is the value of (null inside arrays); counts array elements.
    private static (string Path, string? Name) ValuePath(Stack<Frame> frames, string? property, string? propertyPath)
    {
        if (frames.Count == 0)
        {
            return ("$", null);
        }

        var parent = frames.Peek();
        if (parent.Keys is not null)
        {
            return (propertyPath!, property);
        }

        return ($"{parent.Path}[{parent.NextIndex++}]", null);
    }

    // The loader's path style: .name for plain names, ["name"] for SKUs (the keys of a prices object) and other names.
    private static string Member(string path, string? objectName, string key) =>
        objectName != "prices" && IsPlainName(key) ? $"{path}.{key}" : $"{path}[\"{key}\"]";

    internal static bool IsPlainName(string key) =>
        key.Length > 0 && !char.IsAsciiDigit(key[0]) && key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    private sealed class Frame(string path, string? name, Dictionary<string, long>? keys)
    {
        public string Path { get; } = path;

        // The key whose value this object is (null at the root and inside arrays).
        public string? Name { get; } = name;

        // Key -> byte offset of its first occurrence; null for an array.
        public Dictionary<string, long>? Keys { get; } = keys;

        public int NextIndex { get; set; }
    }
}
