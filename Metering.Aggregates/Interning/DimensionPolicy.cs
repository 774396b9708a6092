using System.Text;

namespace Metering.Aggregates.Interning;

/// <summary>
/// Which record dimensions a SKU keeps in its aggregate key. The default keeps none: every dimension is still
/// validated, then dropped, so an unexpected dimension can never blow up aggregate cardinality.
/// Immutable and thread-safe.
/// </summary>
public sealed class DimensionPolicy
{
    /// <summary>Separates pairs in a canonical dimension set (ASCII unit separator, never valid in a key).</summary>
    public const char PairSeparator = '\u001F';

    private readonly Dictionary<string, byte[][]> _kept;

    /// <summary>The policy that keeps no dimensions for any SKU.</summary>
    public static DimensionPolicy KeepNone { get; } = new(new Dictionary<string, IReadOnlyList<string>>());

    /// <summary>Creates a policy from SKU name to the dimension keys it keeps (order is irrelevant; sorted ordinally).</summary>
    public DimensionPolicy(IReadOnlyDictionary<string, IReadOnlyList<string>> keptBySku)
    {
        ArgumentNullException.ThrowIfNull(keptBySku);
        _kept = new Dictionary<string, byte[][]>(StringComparer.Ordinal);
        foreach (var (sku, keys) in keptBySku)
        {
            var sorted = keys.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            foreach (var k in sorted)
            {
                if (k.Length == 0 || k.Contains('=', StringComparison.Ordinal) || k.Contains(PairSeparator, StringComparison.Ordinal))
                {
                    throw new ArgumentException($"dimension key '{k}' for SKU '{sku}' must be non-empty and contain neither '=' nor U+001F", nameof(keptBySku));
                }
            }

            _kept[sku] = sorted.Select(Encoding.UTF8.GetBytes).ToArray();
        }
    }

    /// <summary>
    /// Parses "sku=key1,key2;sku2=key3" (the CLI's --keep-dimensions form).
    /// </summary>
    public static DimensionPolicy Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return KeepNone;
        }

        var map = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var entry in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"'{entry}' is not 'sku=key1,key2'");
            }

            map[entry[..eq]] = entry[(eq + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        return new DimensionPolicy(map);
    }

    /// <summary>
    /// This policy plus the keys of <paramref name="more"/> (per SKU, a union): how the engine keeps the dimensions its
    /// price books group lines by (<c>group_by</c>) on top of <c>--keep-dimensions</c>. Returns this policy when nothing is added.
    /// </summary>
    public DimensionPolicy With(IReadOnlyDictionary<string, IReadOnlyList<string>> more)
    {
        ArgumentNullException.ThrowIfNull(more);
        if (more.All(kv => Keeps(kv.Key, kv.Value)))
        {
            return this;
        }

        var map = _kept.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<string>)[.. kv.Value.Select(Encoding.UTF8.GetString)], StringComparer.Ordinal);
        foreach (var (sku, keys) in more)
        {
            map[sku] = map.TryGetValue(sku, out var kept) ? [.. kept.Union(keys, StringComparer.Ordinal)] : keys;
        }

        return new DimensionPolicy(map);
    }

    /// <summary>True when <paramref name="sku"/> keeps every one of <paramref name="keys"/>.</summary>
    public bool Keeps(string sku, IReadOnlyList<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var kept = KeptKeys(sku);
        return keys.All(k => kept.Any(b => Encoding.UTF8.GetString(b) == k));
    }

    /// <summary>The kept keys of a SKU as UTF-8 (sorted), empty when it keeps none.</summary>
    public byte[][] KeptKeys(string sku) => _kept.TryGetValue(sku, out var keys) ? keys : [];

    /// <summary>True when no SKU keeps any dimension (the decoder then skips building sets).</summary>
    public bool IsEmpty => _kept.Count == 0;
}
