using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Metering.Ingest.CloudEvents;

/// <summary>
/// Where a mapped value comes from: a context attribute of the event (<c>subject</c>, <c>source</c>, <c>id</c>,
/// <c>type</c> or an extension attribute such as <c>tenant</c>), or a JSON path into its <c>data</c>
/// (<c>$.usage.bytes</c>, <c>$['bytes.out']</c>, <c>$.items[0].n</c>; <c>$</c> is the data itself). Immutable,
/// thread-safe.
/// </summary>
public sealed class ValueSource
{
    private readonly object[] _segments; // string (member name) or int (array index)

    private ValueSource(string text, string? attribute, object[] segments)
    {
        Text = text;
        Attribute = attribute;
        _segments = segments;
    }

    /// <summary>The source as written in the mapping.</summary>
    public string Text { get; }

    /// <summary>The attribute's name, or null for a JSON path into <c>data</c>.</summary>
    public string? Attribute { get; }

    /// <summary>Parses a source; null and <paramref name="error"/> when it is neither an attribute name nor a JSON path.</summary>
    public static ValueSource? Parse(string text, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        error = null;
        if (!text.StartsWith('$'))
        {
            if (!CloudEvent.IsAttributeName(text))
            {
                error = $"'{text}' is neither a JSON path into data (starting with '$', such as \"$.bytes\") nor a context attribute name (\"subject\", \"source\", or an extension: 1-20 of a-z and 0-9)";
                return null;
            }

            if (text is "specversion" or "datacontenttype" or "dataschema" or "data" or "data_base64")
            {
                error = $"'{text}' describes the event, not usage: map a value from \"subject\", \"source\", an extension attribute or a JSON path into data";
                return null;
            }

            return new ValueSource(text, text, []);
        }

        var segments = new List<object>();
        var i = 1;
        while (i < text.Length)
        {
            if (text[i] == '.')
            {
                var start = ++i;
                while (i < text.Length && text[i] != '.' && text[i] != '[')
                {
                    i++;
                }

                if (i == start)
                {
                    error = $"'{text}': an empty member name at character {start + 1} (write $.a.b, or $['a.b'] for a name with a dot)";
                    return null;
                }

                segments.Add(text[start..i]);
            }
            else if (text[i] == '[')
            {
                i++;
                if (i < text.Length && text[i] is '\'' or '"')
                {
                    var quote = text[i++];
                    var name = new StringBuilder();
                    while (i < text.Length && text[i] != quote)
                    {
                        name.Append(text[i++]);
                    }

                    if (i + 1 >= text.Length || text[i + 1] != ']')
                    {
                        error = $"'{text}': a quoted member name must end with {quote}]";
                        return null;
                    }

                    segments.Add(name.ToString());
                    i += 2;
                }
                else
                {
                    var start = i;
                    while (i < text.Length && char.IsAsciiDigit(text[i]))
                    {
                        i++;
                    }

                    if (i == start || i >= text.Length || text[i] != ']' || !int.TryParse(text.AsSpan(start, i - start), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                    {
                        error = $"'{text}': expected an array index such as [0] or a quoted name such as ['a.b'] at character {start + 1}";
                        return null;
                    }

                    segments.Add(index);
                    i++;
                }
            }
            else
            {
                error = $"'{text}': expected '.' or '[' at character {i + 1} (a JSON path such as $.usage.bytes)";
                return null;
            }
        }

        return new ValueSource(text, null, [.. segments]);
    }

    /// <summary>
    /// The value in <paramref name="ev"/>: an attribute's value, or the element at the path in its data; false when
    /// the attribute is absent or the path leads nowhere (a member missing, an index past the end, data not JSON).
    /// </summary>
    public bool TryResolve(CloudEvent ev, out JsonElement value)
    {
        ArgumentNullException.ThrowIfNull(ev);
        if (Attribute is not null)
        {
            return ev.TryGetAttribute(Attribute, out value);
        }

        value = default;
        if (ev.Data is not { } data)
        {
            return false;
        }

        var current = data;
        foreach (var segment in _segments)
        {
            if (segment is string name)
            {
                if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(name, out current))
                {
                    return false;
                }
            }
            else
            {
                var index = (int)segment;
                if (current.ValueKind != JsonValueKind.Array || index >= current.GetArrayLength())
                {
                    return false;
                }

                current = current[index];
            }
        }

        value = current;
        return true;
    }

    /// <summary>Where the value was looked for, for a rejection's detail (<c>data at $.bytes</c>, <c>attribute 'subject'</c>).</summary>
    public string Describe() => Attribute is null ? $"data at {Text}" : $"attribute '{Attribute}'";
}
