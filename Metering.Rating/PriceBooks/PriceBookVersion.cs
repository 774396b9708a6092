using Metering.Rating.Pricing;

namespace Metering.Rating.PriceBooks;

/// <summary>One immutable version of a price book, identified by its content hash.</summary>
public sealed class PriceBookVersion
{
    internal PriceBookVersion(string version, DateTimeOffset from, DateTimeOffset? to, IReadOnlyDictionary<string, SkuPrice> prices,
        IReadOnlyList<RecurringFee> fees, decimal? minimumCommitment, string hash)
    {
        Version = version;
        EffectiveFrom = from;
        EffectiveTo = to;
        Prices = prices;
        Fees = fees;
        MinimumCommitment = minimumCommitment;
        Hash = hash;
    }

    /// <summary>Version name.</summary>
    public string Version { get; }

    /// <summary>First instant the version applies (inclusive).</summary>
    public DateTimeOffset EffectiveFrom { get; }

    /// <summary>First instant it no longer applies (exclusive); null = open-ended.</summary>
    public DateTimeOffset? EffectiveTo { get; }

    /// <summary>Prices by SKU.</summary>
    public IReadOnlyDictionary<string, SkuPrice> Prices { get; }

    /// <summary>Recurring fees per period.</summary>
    public IReadOnlyList<RecurringFee> Fees { get; }

    /// <summary>Minimum usage amount per period (true-up line), if any.</summary>
    public decimal? MinimumCommitment { get; }

    /// <summary>"sha256:..." of the canonical JSON of the version, with the book id and currency: lineage of every charge.</summary>
    public string Hash { get; }
}
