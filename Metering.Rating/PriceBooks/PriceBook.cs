using Metering.Rating.Money;
using Metering.Rating.Periods;

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
