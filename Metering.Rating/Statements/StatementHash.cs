using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Metering.Rating.Pricing;

namespace Metering.Rating.Statements;

/// <summary>
/// The canonical serialisation of a <see cref="Statement"/> and its content hash (docs/statements.md, "Content hash").
/// UTF-8 text, one record per line ending in LF, fields separated by <c>|</c> in a fixed order, first the header
/// <c>metering-statement|1</c>, then <c>account</c>, <c>period</c>, <c>terms</c>, every usage line (each followed by its
/// <c>tier</c> lines), fee, commitment and adjustment lines in the statement's canonical order, then the <c>total</c>
/// lines. Decimals: invariant culture, '.' separator, no exponent, no group separator, no trailing fractional zeros
/// (1.50 and 1.5 are the same number and hash the same), '-' for negatives, 0 for zero. Instants: UTC,
/// <c>yyyy-MM-ddTHH:mm:ss.fffffffZ</c>. Strings: '\' is written <c>\\</c>, '|' <c>\p</c>, LF <c>\n</c>, CR <c>\r</c>;
/// null is <c>\-</c> (no string can produce it). Booleans <c>true</c>/<c>false</c>. Pure and thread-safe.
/// </summary>
public static class StatementHash
{
    /// <summary>The first line of the serialisation; a change of the format changes it.</summary>
    public const string Header = "metering-statement|1";

    /// <summary>"sha256:" and the lowercase hex SHA-256 of the UTF-8 bytes of <see cref="CanonicalText"/>.</summary>
    public static string Of(Statement statement) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(CanonicalText(statement))));

    /// <summary>The canonical serialisation the hash is taken over.</summary>
    public static string CanonicalText(Statement statement)
    {
        ArgumentNullException.ThrowIfNull(statement);
        var sb = new StringBuilder();
        sb.Append(Header).Append('\n');
        Record(sb, "account", Text(statement.Account));
        Record(sb, "period", Instant(statement.Period.Start), Instant(statement.Period.End));
        Record(sb, "terms", Instant(statement.Terms.SubscriptionStart), Instant(statement.Terms.SubscriptionEnd), Text(statement.Terms.BillingCurrency));
        foreach (var u in statement.Usage)
        {
            sb.Append(LineOf(u)).Append('\n');
            foreach (var t in u.Tiers)
            {
                Record(sb, "tier", t.Tier.ToString(CultureInfo.InvariantCulture), Number(t.From), Number(t.UpTo), Number(t.Quantity), Number(t.UnitPrice), Number(t.FlatFee), Number(t.Amount));
            }
        }

        foreach (var f in statement.Fees)
        {
            sb.Append(LineOf(f)).Append('\n');
        }

        foreach (var c in statement.Commitments)
        {
            sb.Append(LineOf(c)).Append('\n');
        }

        foreach (var a in statement.Adjustments)
        {
            sb.Append(LineOf(a)).Append('\n');
        }

        foreach (var t in statement.Totals)
        {
            Record(sb, "total", Text(t.Currency), Number(t.Usage), Number(t.Fees), Number(t.Commitments), Number(t.Adjustments), Number(t.Total));
        }

        return sb.ToString();
    }

    /// <summary>The serialised usage line (without its tiers): also its sort key.</summary>
    public static string LineOf(UsageLine line)
    {
        ArgumentNullException.ThrowIfNull(line);
        // A grouped line carries its group right after the SKU; an ungrouped line has no such field, so statements
        // written before grouping existed keep their text and their hash.
        // A line of a SKU priced by several versions in the period carries its stretch [from, to) next (so such lines
        // sort in time order); other lines have no such fields, and keep their text and hash.
        var key = line.Group.Length == 0 ? Text(line.Sku) : Text(line.Sku) + "|" + Text(line.Group);
        if (line.PriceFrom is { } from)
        {
            key += "|" + Instant(from) + "|" + Instant(line.PriceTo);
        }

        return Join("usage", key, Bool(line.Priced), Text(line.UnpricedReason), Text(line.UnpricedDetail), Number(line.RecordedQuantity), Text(line.RecordedUnit),
            line.RecordCount.ToString(CultureInfo.InvariantCulture), Text(ModelName(line.Model)), Number(line.ConvertedQuantity), Number(line.IncludedUnitsApplied),
            Number(line.BillableQuantity), Text(line.BillableUnit), Number(line.ExactAmount), Number(line.Amount), Text(line.Currency), Text(line.PriceBook),
            Text(line.PriceBookVersion), Text(line.PriceBookHash));
    }

    /// <summary>The serialised fee line: also its sort key.</summary>
    public static string LineOf(FeeLine line)
    {
        ArgumentNullException.ThrowIfNull(line);
        return Join("fee", Text(line.FeeId), Instant(line.ServiceStart), Instant(line.ServiceEnd), Number(line.ProrationFactor), Number(line.Amount), Text(line.Currency),
            Text(line.PriceBook), Text(line.PriceBookVersion), Text(line.PriceBookHash));
    }

    /// <summary>The serialised commitment line: also its sort key.</summary>
    public static string LineOf(CommitmentLine line)
    {
        ArgumentNullException.ThrowIfNull(line);
        return Join("commitment", Text(line.Currency), Number(line.Committed), Number(line.UsageCharged), Number(line.TrueUp), Text(line.PriceBook), Text(line.PriceBookVersion),
            Text(line.PriceBookHash));
    }

    /// <summary>The serialised adjustment line: also its sort key.</summary>
    public static string LineOf(AdjustmentLine line)
    {
        ArgumentNullException.ThrowIfNull(line);
        return Join("adjustment", Text(line.Kind), Text(line.Reference), line.Group.Length == 0 ? Text(line.Sku) : Text(line.Sku) + "|" + Text(line.Group), Number(line.Quantity), Number(line.Amount), Text(line.Currency), Text(line.Reason));
    }

    /// <summary>The canonical text of a decimal: invariant, no exponent, no trailing fractional zeros, "0" for any zero.</summary>
    public static string Number(decimal value)
    {
        if (value == 0)
        {
            return "0"; // also -0 and 0.00, which decimal keeps apart
        }

        var s = value.ToString(CultureInfo.InvariantCulture);
        if (s.Contains('.', StringComparison.Ordinal))
        {
            s = s.TrimEnd('0').TrimEnd('.');
        }

        return s;
    }

    private static string Number(decimal? value) => value is { } v ? Number(v) : Null;

    private const string Null = "\\-";

    private static string Text(string? value)
    {
        if (value is null)
        {
            return Null;
        }

        if (value.AsSpan().IndexOfAny('\\', '|') < 0 && value.AsSpan().IndexOfAny('\n', '\r') < 0)
        {
            return value;
        }

        return value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("|", "\\p", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal);
    }

    private static string Instant(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static string Instant(DateTimeOffset? value) => value is { } v ? Instant(v) : Null;

    private static string Bool(bool value) => value ? "true" : "false";

    private static string? ModelName(PricingModel? model) => model switch
    {
        null => null,
        PricingModel.PerUnit => "per_unit",
        PricingModel.Graduated => "graduated",
        PricingModel.Volume => "volume",
        PricingModel.Package => "package",
        PricingModel.Percentage => "percentage",
        _ => throw new ArgumentOutOfRangeException(nameof(model), model, "a pricing model the statement serialisation does not name"),
    };

    private static string Join(string tag, params string[] fields) => tag + "|" + string.Join('|', fields);

    private static void Record(StringBuilder sb, string tag, params string[] fields) => sb.Append(Join(tag, fields)).Append('\n');
}
