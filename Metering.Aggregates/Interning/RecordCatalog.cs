namespace Metering.Aggregates.Interning;

/// <summary>
/// The process-wide interners shared by every decoder and the aggregates: accounts, SKUs and the kept-dimension
/// sets, plus the per-SKU dimension policy. Thread-safe (see <see cref="ByteStringInterner"/>).
/// </summary>
public sealed class RecordCatalog
{
    /// <summary>Creates a catalog with the given cardinality limits.</summary>
    public RecordCatalog(DimensionPolicy? dimensionPolicy = null, int maxAccounts = 4_000_000, int maxSkus = 100_000, int maxDimensionSets = 1_000_000)
    {
        Accounts = new ByteStringInterner(maxAccounts, "account");
        Skus = new ByteStringInterner(maxSkus, "sku");
        DimensionSets = new ByteStringInterner(maxDimensionSets, "dimension set");
        Dimensions = dimensionPolicy ?? DimensionPolicy.KeepNone;
    }

    /// <summary>Account names.</summary>
    public ByteStringInterner Accounts { get; }

    /// <summary>SKU names.</summary>
    public ByteStringInterner Skus { get; }

    /// <summary>Canonical kept-dimension sets ("region=eu", keys in policy order, separated by 0x1F).</summary>
    public ByteStringInterner DimensionSets { get; }

    /// <summary>Which dimensions each SKU keeps in its aggregate key.</summary>
    public DimensionPolicy Dimensions { get; }

    /// <summary>Decodes a dimension-set id back into its pairs (empty for 0).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> DescribeDimensions(int dimensionSetId)
    {
        if (dimensionSetId == 0)
        {
            return [];
        }

        var text = DimensionSets.GetString(dimensionSetId);
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var part in text.Split(DimensionPolicy.PairSeparator))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            pairs.Add(new KeyValuePair<string, string>(part[..eq], part[(eq + 1)..]));
        }

        return pairs;
    }
}
