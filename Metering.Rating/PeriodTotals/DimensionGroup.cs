using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Metering.Rating.PeriodTotals;

/// <summary>
/// The dimension values a price groups its usage by (<c>group_by</c> in a price book, Lago's grouped charges): the
/// canonical text that keys a billing-period total and a statement's usage line. A price without <c>group_by</c>
/// has the one group <see cref="None"/> (""), so its totals are keyed as before grouping existed. A grouped price's
/// group is a JSON object of its group keys in ordinal key order, each with the window's value of that dimension, or
/// "" when the record did not carry it (the rule of <c>GET /v1/usage?group_by</c>): <c>{"colo":"","region":"eu"}</c>.
/// Dimensions a price does not group by never split its lines. Pure and thread-safe.
/// </summary>
public static class DimensionGroup
{
    /// <summary>The group of every ungrouped price.</summary>
    public const string None = "";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// The group of a window with <paramref name="dimensions"/> under a price grouping by <paramref name="groupBy"/>
    /// (sorted ordinally, no repeats, as <c>SkuPrice.GroupBy</c> holds them); <see cref="None"/> when it groups by nothing.
    /// </summary>
    public static string Of(IReadOnlyList<string> groupBy, IReadOnlyList<KeyValuePair<string, string>>? dimensions)
    {
        ArgumentNullException.ThrowIfNull(groupBy);
        if (groupBy.Count == 0)
        {
            return None;
        }

        var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, WriterOptions))
        {
            json.WriteStartObject();
            foreach (var key in groupBy)
            {
                var value = "";
                if (dimensions is not null)
                {
                    foreach (var pair in dimensions)
                    {
                        if (string.Equals(pair.Key, key, StringComparison.Ordinal))
                        {
                            value = pair.Value;
                            break;
                        }
                    }
                }

                json.WriteString(key, value);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>The key/value pairs of <paramref name="group"/> in key order; empty for <see cref="None"/>. Throws <see cref="FormatException"/> on anything else than a flat object of strings.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Pairs(string group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (group.Length == 0)
        {
            return [];
        }

        try
        {
            using var doc = JsonDocument.Parse(group);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"dimension group '{group}' is not a JSON object");
            }

            var pairs = new List<KeyValuePair<string, string>>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                {
                    throw new FormatException($"dimension group '{group}': '{p.Name}' is not a string");
                }

                pairs.Add(new KeyValuePair<string, string>(p.Name, p.Value.GetString()!));
            }

            return pairs;
        }
        catch (JsonException e)
        {
            throw new FormatException($"dimension group '{group}' is not JSON: {e.Message}", e);
        }
    }

    /// <summary>
    /// Per SKU, every dimension key any version of any book of <paramref name="prices"/> groups by: what the engine must
    /// keep in its aggregate keys so that each window can be put in its group. Empty for null.
    /// </summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> KeysBySku(PriceBooks.PriceCatalog? prices)
    {
        var keys = new SortedDictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        if (prices is not null)
        {
            foreach (var book in prices.List is null ? prices.Contracts : prices.Contracts.Prepend(prices.List))
            {
                foreach (var version in book.Versions)
                {
                    foreach (var (sku, price) in version.Prices)
                    {
                        if (price.GroupBy.Count > 0)
                        {
                            if (!keys.TryGetValue(sku, out var set))
                            {
                                keys[sku] = set = new SortedSet<string>(StringComparer.Ordinal);
                            }

                            set.UnionWith(price.GroupBy);
                        }
                    }
                }
            }
        }

        return keys.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)[.. kv.Value], StringComparer.Ordinal);
    }
}
