using System.Globalization;
using System.Text.Json;
using Metering.Rating.Meters;
using Metering.Rating.Periods;

namespace Metering.Rating.PriceBooks;

/// <summary>
/// The checks of a price book that catch what parses but would be billed wrongly or not at all (docs/pricebooks.md,
/// "Validation"): friendly JSON syntax errors, a list book and a contract book in each other's place, a contract's own
/// billing period, a gap between a list book's versions, and fields a price's model does not read. The loader runs
/// them; the API reports the same errors. Stateless and thread-safe.
/// </summary>
public static class PriceBookValidation
{
    /// <summary>
    /// A JSON syntax error as a problem at <c>$</c> with the 1-based line and column; a trailing comma (which
    /// System.Text.Json reports as a reader-option problem) says so and where the comma is.
    /// </summary>
    public static PriceBookError SyntaxError(ReadOnlySpan<byte> json, JsonException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception.LineNumber is not { } line || exception.BytePositionInLine is not { } position)
        {
            return new PriceBookError("$", "not valid JSON: " + exception.Message);
        }

        var offset = JsonPosition.OffsetOf(json, line, position);
        if (IsTrailingComma(json, offset))
        {
            var comma = CommaBefore(json, offset);
            var (commaLine, commaColumn) = JsonPosition.Of(json, comma ?? offset);
            var closer = offset < json.Length ? $" before '{(char)json[(int)offset]}'" : "";
            return new PriceBookError("$", $"not valid JSON: trailing comma at line {commaLine}, column {commaColumn}{closer}: remove the trailing comma (JSON allows none after the last member or element)");
        }

        var (errorLine, errorColumn) = JsonPosition.Of(json, offset);
        return new PriceBookError("$", $"not valid JSON at line {errorLine}, column {errorColumn}: {WithoutPosition(exception.Message)}");
    }

    /// <summary>
    /// A list book where a contract is expected (a <paramref name="parent"/> was given) and a contract where a list book
    /// is expected (none was), and a contract whose parent is not the list book given.
    /// </summary>
    internal static void CheckRole(string? account, string? parentId, PriceBook? parent, List<PriceBookError> errors)
    {
        if (account is null && parentId is not null)
        {
            errors.Add(new PriceBookError("$.parent", "only a contract book (with an account) has a parent"));
        }
        else if (account is null && parent is not null)
        {
            errors.Add(new PriceBookError("$", $"is a list book (no account, no parent) where a contract book is expected: a contract names its account and its list book ('{parent.Id}') in 'account' and 'parent'; give a list book as the list book (CLI: the FILE argument, not --contracts)"));
        }

        if (account is not null && parent is null)
        {
            errors.Add(new PriceBookError("$.account", $"is a contract book (account '{account}') where a list book is expected: a contract is checked and rated on top of its list book{(parentId is null ? "" : $" ('{parentId}')")}; give that as the list book and this one as a contract (CLI: --contracts FILE)"));
        }
        else if (account is not null && parentId is not null && parent!.Id != parentId)
        {
            errors.Add(new PriceBookError("$.parent", $"names '{parentId}', but the list book is '{parent.Id}'"));
        }
    }

    /// <summary>A contract's <c>billing_period</c>: nothing reads it, so it is refused rather than silently ignored.</summary>
    internal static void CheckContractPeriods(JsonElement root, string? account, List<PriceBookError> errors)
    {
        if (account is not null && root.TryGetProperty("billing_period", out _))
        {
            errors.Add(new PriceBookError("$.billing_period",
                "a contract book cannot set billing periods (nothing would honour it): periods follow the account's terms (anchor_day, time_zone: " +
                "PUT /v1/accounts/{account} or metering account set, docs/api.md#accounts) and otherwise the list book's billing_period; remove it"));
        }
    }

    /// <summary>
    /// A gap between two versions of a list book: usage in it resolves to no version and is unpriced, and a billing
    /// period starting in it is rated at its start, so all its usage is. Every gap is refused, not only those over one of
    /// the list's period starts: an account's own anchor day and time zone put period starts anywhere. A contract's
    /// gaps are allowed: its account falls back to the list book there (docs/pricebooks.md, "Which price applies").
    /// </summary>
    internal static void CheckVersionGaps(JsonElement versionsJson, IReadOnlyList<PriceBookVersion> versions, BillingPeriodRule periods, string? account, List<PriceBookError> errors)
    {
        if (account is not null)
        {
            return;
        }

        var sorted = versions.OrderBy(v => v.EffectiveFrom).ToList();
        for (var i = 1; i < sorted.Count; i++)
        {
            var (previous, next) = (sorted[i - 1], sorted[i]);
            if (previous.EffectiveTo is { } end && end < next.EffectiveFrom) // an overlap is refused on its own
            {
                errors.Add(new PriceBookError($"$.versions[{IndexOf(versionsJson, previous.Version)}].effective_to",
                    Gap(end, next.EffectiveFrom, previous.Version, next.Version, periods) + $"end '{previous.Version}' where '{next.Version}' starts or add a version for the gap"));
            }
        }
    }

    /// <summary>
    /// A SKU's meter is one for the whole book and its contracts (docs/meters.md, "A meter per SKU"): the ledger keeps one
    /// meter state per (account, SKU, period) and a period's quantity carries across a version change inside it, which
    /// is only defined when both sides aggregate alike. So every version of a book must give a SKU the same meter, and a
    /// contract's override the list book's meter for it. A percentile meter's buckets must also fit the state's bound in
    /// the longest billing period (31 days and an hour of daylight saving for monthly periods, an account's own
    /// included; the length for fixed ones). A meter change is a new SKU.
    /// </summary>
    internal static void CheckMeters(JsonElement versionsJson, IReadOnlyList<PriceBookVersion> versions, BillingPeriodRule periods, PriceBook? parent, List<PriceBookError> errors)
    {
        var first = new Dictionary<string, (MeterDefinition Meter, string Version)>(StringComparer.Ordinal);
        var longest = periods.AnchorDay == 0 ? periods.FixedLength : TimeSpan.FromDays(31) + TimeSpan.FromHours(1);
        foreach (var version in versions)
        {
            foreach (var (sku, price) in version.Prices)
            {
                var path = MeterPath(versionsJson, version.Version, sku);
                if (first.TryGetValue(sku, out var seen))
                {
                    if (seen.Meter != price.Meter)
                    {
                        errors.Add(new PriceBookError(path, $"the meter of '{sku}' changes from {seen.Meter} in version '{seen.Version}' to {price.Meter} here: a SKU keeps one meter in every version (its period quantity carries across a version change); meter it as a new SKU"));
                    }

                    continue;
                }

                first.Add(sku, (price.Meter, version.Version));
                if (parent?.Versions.Select(v => v.Prices.GetValueOrDefault(sku)).FirstOrDefault(p => p is not null) is { } listPrice && listPrice.Meter != price.Meter)
                {
                    errors.Add(new PriceBookError(path, $"the meter {price.Meter} differs from the list book '{parent.Id}''s {listPrice.Meter} for '{sku}': a contract overrides a SKU's price, not how its usage is metered"));
                }

                if (price.Meter.Aggregation == MeterAggregation.Percentile && (longest.Ticks / price.Meter.Bucket.Ticks) + 2 > MeterDefinition.MaxBuckets)
                {
                    errors.Add(new PriceBookError(path + ".bucket", $"a billing period of up to {longest.TotalDays:0.##} days holds more than {MeterDefinition.MaxBuckets} buckets of {MeterDurations.Format(price.Meter.Bucket)}, the most a percentile state keeps per key: use longer buckets"));
                }
            }
        }
    }

    /// <summary>
    /// The meters of <paramref name="book"/> the streaming engine does not rate: none today. Every aggregation of
    /// docs/meters.md (sum, count, max, min, latest, unique_count, time_weighted, percentile) is merged into its
    /// total's state in the flush and rated on the meter's quantity. The registry (API and CLI publish, and the files
    /// <c>run</c>/<c>stream</c> publish) still asks, so that an aggregation added to the definitions before the engine
    /// carries what it needs to the flush is refused at <c>$.versions[i].prices["SKU"].meter</c> rather than billed as a sum.
    /// </summary>
    public static IReadOnlyList<PriceBookError> UnratedMeters(PriceBook book) =>
        Refuse(book, m => !RatedByEngine(m.Aggregation),
            "is defined (docs/meters.md) but not rated by the streaming engine: it would bill the sum of the records; meter it with another aggregation, or leave the meter out (sum)");

    private static bool RatedByEngine(MeterAggregation aggregation) => aggregation is MeterAggregation.Sum or MeterAggregation.Count or MeterAggregation.Max or MeterAggregation.Min
        or MeterAggregation.Latest or MeterAggregation.UniqueCount or MeterAggregation.TimeWeighted or MeterAggregation.Percentile;

    private static List<PriceBookError> Refuse(PriceBook book, Func<MeterDefinition, bool> refused, string why)
    {
        ArgumentNullException.ThrowIfNull(book);
        var errors = new List<PriceBookError>();
        for (var i = 0; i < book.Versions.Count; i++)
        {
            foreach (var (sku, price) in book.Versions[i].AllPrices().DistinctBy(p => p.Key))
            {
                if (refused(price.Meter))
                {
                    errors.Add(new PriceBookError($"$.versions[{i}].prices[\"{sku}\"].meter", $"meter '{price.Meter.AggregationName}' of '{sku}' {why}"));
                }
            }
        }

        return errors;
    }

    /// <summary>
    /// The meter changes publishing <paramref name="book"/> (one or more versions, the API's PUT or <c>pricebook
    /// publish</c>) would make against the versions of that book already <paramref name="published"/>: the rule of
    /// <see cref="CheckMeters"/> across the registry, with the same message, at <c>$.versions[i].prices["SKU"].meter</c>.
    /// Called by both publish paths (<c>PriceBookRegistry.MeterChangesAsync</c>).
    /// </summary>
    public static IReadOnlyList<PriceBookError> PublishMeterChanges(PriceBook book, IReadOnlyList<PriceBookVersion> published)
    {
        ArgumentNullException.ThrowIfNull(book);
        ArgumentNullException.ThrowIfNull(published);
        var errors = new List<PriceBookError>();
        for (var i = 0; i < book.Versions.Count; i++)
        {
            foreach (var (sku, price) in book.Versions[i].Prices)
            {
                var other = published.Where(v => v.Version != book.Versions[i].Version)
                    .Select(v => (v.Version, Price: v.Prices.GetValueOrDefault(sku))).FirstOrDefault(p => p.Price is not null);
                if (other.Price is { } seen && seen.Meter != price.Meter)
                {
                    errors.Add(new PriceBookError($"$.versions[{i}].prices[\"{sku}\"].meter",
                        $"the meter of '{sku}' changes from {seen.Meter} in the published version '{other.Version}' to {price.Meter} here: a SKU keeps one meter in every version (its period quantity carries across a version change); meter it as a new SKU"));
                }
            }
        }

        return errors;
    }

    private static string MeterPath(JsonElement versionsJson, string version, string sku) => $"$.versions[{IndexOf(versionsJson, version)}].prices[\"{sku}\"].meter";

    /// <summary>
    /// The gaps publishing the one version of list book <paramref name="book"/> would open next to the versions of that
    /// book already <paramref name="published"/> (the API's PUT): the same rule and message as a gap inside one file.
    /// Empty for a contract, and when the version meets its published neighbours or overlaps them (refused elsewhere).
    /// </summary>
    public static IReadOnlyList<PriceBookError> PublishGaps(PriceBook book, IReadOnlyList<(string Version, DateTimeOffset From, DateTimeOffset? To)> published)
    {
        ArgumentNullException.ThrowIfNull(book);
        ArgumentNullException.ThrowIfNull(published);
        var errors = new List<PriceBookError>();
        if (book.IsContract || book.Versions.Count != 1)
        {
            return errors;
        }

        var candidate = book.Versions[0];
        var others = published.Where(p => p.Version != candidate.Version).ToList();
        var before = others.Where(p => p.From < candidate.EffectiveFrom).OrderByDescending(p => p.From).Take(1).ToList();
        if (before is [{ To: { } end } previous] && end < candidate.EffectiveFrom)
        {
            errors.Add(new PriceBookError("$.versions[0].effective_from", Gap(end, candidate.EffectiveFrom, previous.Version, candidate.Version, book.Periods) +
                $"start '{candidate.Version}' where the published '{previous.Version}' ends or publish a version for the gap first"));
        }

        var after = others.Where(p => p.From > candidate.EffectiveFrom).OrderBy(p => p.From).Take(1).ToList();
        if (candidate.EffectiveTo is { } to && after is [var next] && to < next.From)
        {
            errors.Add(new PriceBookError("$.versions[0].effective_to", Gap(to, next.From, candidate.Version, next.Version, book.Periods) +
                $"end '{candidate.Version}' where the published '{next.Version}' starts or publish a version for the gap first"));
        }

        return errors;
    }

    private static string Gap(DateTimeOffset end, DateTimeOffset nextFrom, string previous, string next, BillingPeriodRule periods)
    {
        var period = periods.PeriodOf(end);
        var firstStart = period.Start == end ? end : period.End;
        var periodText = firstStart < nextFrom ? $", and so is all the usage of the billing period starting {Text(firstStart)} (a period is rated at its start)" : "";
        return $"leaves a gap: no version is effective from {Text(end)} to {Text(nextFrom)} (between '{previous}' and '{next}'), so usage in it is unpriced{periodText}; ";
    }

    /// <summary>
    /// Fields of a price its model does not read (a <c>unit_price</c> on a graduated price, <c>package_size</c> on
    /// per_unit). <paramref name="read"/> is what the loader's parsing of that model read from the price object, so the
    /// allowed fields per model are the parser's own and a new field is allowed exactly where it is parsed. Fields already
    /// refused since <paramref name="errorsFrom"/> (unknown ones, tiers on an untiered model) are not reported twice.
    /// </summary>
    internal static void CheckModelFields(JsonElement price, string path, string model, IReadOnlyList<string> read, List<PriceBookError> errors, int errorsFrom)
    {
        foreach (var field in price.EnumerateObject())
        {
            var fieldPath = $"{path}.{field.Name}";
            // currency_options and meter belong to every model and are checked on their own (the loader's ReadPriceOptions,
            // MeterReader); left out of the fields a model lists, so the list stays the model's own.
            if (read.Contains(field.Name) || field.Name is "currency_options" or "meter" || errors.Skip(errorsFrom).Any(e => e.Path == fieldPath))
            {
                continue;
            }

            errors.Add(new PriceBookError(fieldPath, $"does not belong to a {model} price, which would ignore it (a {model} price has: {string.Join(", ", read)})"));
        }
    }

    private static bool IsTrailingComma(ReadOnlySpan<byte> json, long offset)
    {
        // System.Text.Json's own rule, not a guess: the error is a trailing comma when allowing them moves it or ends it.
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        try
        {
            while (reader.Read())
            {
                if (reader.BytesConsumed > offset)
                {
                    return true;
                }
            }

            return true;
        }
        catch (JsonException)
        {
            return reader.BytesConsumed > offset;
        }
    }

    // The comma before the closing bracket at offset, over whitespace; null when a comment stands between them.
    private static long? CommaBefore(ReadOnlySpan<byte> json, long offset)
    {
        for (var i = (int)Math.Min(offset, json.Length) - 1; i >= 0; i--)
        {
            switch (json[i])
            {
                case (byte)',':
                    return i;
                case (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n':
                    continue;
                default:
                    return null;
            }
        }

        return null;
    }

    private static string WithoutPosition(string message)
    {
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        var path = message.IndexOf(" Path:", StringComparison.Ordinal);
        cut = path >= 0 && (cut < 0 || path < cut) ? path : cut;
        return (cut >= 0 ? message[..cut] : message).TrimEnd(' ', '|');
    }

    private static int IndexOf(JsonElement versionsJson, string version)
    {
        var i = 0;
        foreach (var v in versionsJson.EnumerateArray())
        {
            if (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("version", out var name) && name.ValueKind == JsonValueKind.String && name.GetString() == version)
            {
                return i;
            }

            i++;
        }

        return -1;
    }

    private static string Text(DateTimeOffset instant) => instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
