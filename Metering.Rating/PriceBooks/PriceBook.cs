using Metering.Rating.Money;
using Metering.Rating.Periods;
using Metering.Rating.Pricing;

namespace Metering.Rating.PriceBooks;

/// <summary>
/// A versioned price book: a list (default) book, or a contract book for one account that inherits from the list
/// book and overrides single SKUs. Immutable once loaded; thread-safe.
/// </summary>
public sealed class PriceBook
{
    internal PriceBook(string id, Currency currency, RoundingMode rounding, BillingPeriodRule periods, string? account, string? parent, IReadOnlyList<PriceBookVersion> versions,
        IReadOnlyList<PriceBookQuota>? quotas = null)
    {
        Quotas = quotas ?? [];
        Id = id;
        Currency = currency;
        Rounding = rounding;
        Periods = periods;
        Account = account;
        Parent = parent;
        Versions = versions;
    }

    /// <summary>Book id.</summary>
    public string Id { get; }

    /// <summary>Currency of every amount in the book.</summary>
    public Currency Currency { get; }

    /// <summary>Rounding of line items to minor units (default half-up).</summary>
    public RoundingMode Rounding { get; }

    /// <summary>Billing periods (list books; contracts use their parent's).</summary>
    public BillingPeriodRule Periods { get; }

    /// <summary>The account of a contract book; null for the list book.</summary>
    public string? Account { get; }

    /// <summary>The list book a contract inherits from.</summary>
    public string? Parent { get; }

    /// <summary>Versions ordered by effective-from.</summary>
    public IReadOnlyList<PriceBookVersion> Versions { get; }

    /// <summary>Quotas configured in the book (its <c>quotas</c> section); empty when none.</summary>
    public IReadOnlyList<PriceBookQuota> Quotas { get; }

    /// <summary>True for a contract book.</summary>
    public bool IsContract => Account is not null;

    /// <summary>The version effective at <paramref name="instant"/> ([from, to)), or null.</summary>
    public PriceBookVersion? VersionAt(DateTimeOffset instant)
    {
        foreach (var v in Versions)
        {
            if (v.EffectiveFrom <= instant && (v.EffectiveTo is null || instant < v.EffectiveTo))
            {
                return v;
            }
        }

        return null;
    }
}

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

/// <summary>A flat recurring fee per period; prorated by seconds for partial periods when <see cref="Prorate"/>.</summary>
public sealed record RecurringFee(string Id, decimal Amount, bool Prorate);
