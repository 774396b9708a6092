using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Metering.Rating.Meters;
using Metering.Rating.Money;
using Metering.Rating.Periods;
using Metering.Rating.Pricing;

namespace Metering.Rating.PriceBooks;

/// <summary>
/// Loads and validates price books from JSON (docs/pricebooks.md). Validation is strict (unknown fields are
/// errors: a typo in a price must not be silently ignored) and collects every problem with its JSON path.
/// Amounts may be JSON numbers or decimal strings and are parsed exactly into <see cref="decimal"/>.
/// </summary>
public static class PriceBookLoader
{
    /// <summary>The most dimension keys a price may group its lines by (as many as <c>GET /v1/usage?group_by</c> takes).</summary>
    public const int MaxGroupKeys = 8;

    /// <summary>Loads one book from a file; throws <see cref="PriceBookException"/> listing every problem.</summary>
    public static PriceBook LoadFile(string path, PriceBook? parent = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Load(File.ReadAllBytes(path), path, parent);
    }

    /// <summary>Loads one book from JSON bytes.</summary>
    public static PriceBook Load(ReadOnlySpan<byte> json, string source, PriceBook? parent = null)
    {
        var (book, errors) = Validate(json, parent);
        return book ?? throw new PriceBookException(source, errors);
    }

    /// <summary>Validates JSON; returns the book when there is no problem, and every problem found.</summary>
    public static (PriceBook? Book, IReadOnlyList<PriceBookError> Errors) Validate(ReadOnlySpan<byte> json, PriceBook? parent = null)
    {
        var errors = new List<PriceBookError>();
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            errors.Add(PriceBookValidation.SyntaxError(json, e));
            return (null, errors);
        }

        errors.AddRange(JsonDuplicateKeyCheck.Find(json));

        using (doc)
        {
            var book = new Reader(errors).ReadBook(doc.RootElement, parent);
            return (errors.Count == 0 ? book : null, errors);
        }
    }

    private sealed class Reader(List<PriceBookError> errors)
    {
        // The fields read from the price object being parsed (at _fieldsPath): which fields its model has (PriceBookValidation.CheckModelFields).
        private readonly List<string> _fieldsRead = [];
        private string? _fieldsPath;

        private void Error(string path, string message) => errors.Add(new PriceBookError(path, message));

        private void Note(string path, string name)
        {
            if (path == _fieldsPath && !_fieldsRead.Contains(name))
            {
                _fieldsRead.Add(name);
            }
        }

        private bool Property(JsonElement obj, string name, string path, out JsonElement value)
        {
            Note(path, name);
            return obj.TryGetProperty(name, out value);
        }

        private bool Object(JsonElement e, string path, params string[] allowed)
        {
            if (e.ValueKind != JsonValueKind.Object)
            {
                Error(path, "must be an object");
                return false;
            }

            foreach (var p in e.EnumerateObject())
            {
                if (Array.IndexOf(allowed, p.Name) < 0)
                {
                    Error($"{path}.{p.Name}", $"unknown field (allowed: {string.Join(", ", allowed)})");
                }
            }

            return true;
        }

        private string? String(JsonElement obj, string name, string path, bool required)
        {
            Note(path, name);
            if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                if (required)
                {
                    Error($"{path}.{name}", "is required");
                }

                return null;
            }

            if (v.ValueKind != JsonValueKind.String || v.GetString()!.Length == 0)
            {
                Error($"{path}.{name}", "must be a non-empty string");
                return null;
            }

            return v.GetString();
        }

        private decimal? Decimal(JsonElement obj, string name, string path, bool required, decimal min = 0)
        {
            Note(path, name);
            if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                if (required)
                {
                    Error($"{path}.{name}", "is required");
                }

                return null;
            }

            var text = v.ValueKind switch
            {
                JsonValueKind.Number => v.GetRawText(),
                JsonValueKind.String => v.GetString(),
                _ => null,
            };
            if (text is null || !decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var d))
            {
                Error($"{path}.{name}", $"must be a decimal number (a JSON number or a string such as \"0.0000004\") less than 10^18 in magnitude");
                return null;
            }

            // Every price-book number ends in a ledger column or in a product with a quantity that does: the range of
            // LedgerDecimal (magnitude; prices may have more than 9 fractional digits, their amounts are rounded).
            if (!LedgerDecimal.FitsMagnitude(d))
            {
                Error($"{path}.{name}", $"must be less than 10^18 in magnitude (the ledger's range), got {text}");
                return null;
            }

            if (d < min)
            {
                Error($"{path}.{name}", min == 0 ? "must not be negative" : $"must be at least {min}");
                return null;
            }

            return d;
        }

        private DateTimeOffset? Instant(JsonElement obj, string name, string path, bool required)
        {
            var s = String(obj, name, path, required);
            if (s is null)
            {
                return null;
            }

            if (!DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var t) || !s.Contains('T', StringComparison.Ordinal))
            {
                Error($"{path}.{name}", $"must be an RFC 3339 instant such as 2026-11-01T00:00:00Z, got '{s}'");
                return null;
            }

            return t;
        }

        // A version takes effect on a whole UTC hour: usage is rated in windows that divide an hour, so a version taking
        // effect inside a billing period starts its stretch on a window boundary, and the engine (by window start) and a
        // correction (by event time) put the same usage on the same side of it (docs/pricebooks.md).
        private DateTimeOffset? WholeHour(DateTimeOffset? instant, string path)
        {
            if (instant is { } t && t.UtcTicks % TimeSpan.TicksPerHour != 0)
            {
                Error(path, $"must be a whole UTC hour (hh:00:00Z), got {t.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'}: a version takes effect where a usage window starts");
                return null;
            }

            return instant;
        }

        public PriceBook? ReadBook(JsonElement root, PriceBook? parent)
        {
            if (!Object(root, "$", "id", "currency", "rounding", "billing_period", "account", "parent", "versions", "description", "quotas"))
            {
                return null;
            }

            var id = String(root, "id", "$", true);
            var account = String(root, "account", "$", false);
            var parentId = String(root, "parent", "$", account is not null);
            PriceBookValidation.CheckRole(account, parentId, parent, errors);
            PriceBookValidation.CheckContractPeriods(root, account, errors);

            var currencyCode = String(root, "currency", "$", parent is null || account is null);
            Currency? currency = null;
            if (currencyCode is not null && !Currency.TryGet(currencyCode, out currency))
            {
                Error("$.currency", $"'{currencyCode}' is not a known ISO 4217 currency code");
            }

            if (account is not null && parent is not null)
            {
                if (currency is not null && currency != parent.Currency)
                {
                    Error("$.currency", $"'{currency.Code}' differs from the list book's '{parent.Currency.Code}'");
                }

                currency ??= parent.Currency;
            }

            var rounding = parent?.Rounding ?? RoundingMode.HalfUp;
            var roundingText = String(root, "rounding", "$", false);
            if (roundingText is not null && !Money.Rounding.TryParse(roundingText, out rounding))
            {
                Error("$.rounding", $"'{roundingText}' is not one of half_up, half_even, up, down");
            }

            var periods = parent?.Periods ?? BillingPeriodRule.CalendarMonth;
            if (root.TryGetProperty("billing_period", out var bp))
            {
                periods = ReadPeriods(bp, "$.billing_period") ?? periods;
            }

            var versions = new List<PriceBookVersion>();
            if (!root.TryGetProperty("versions", out var vs) || vs.ValueKind != JsonValueKind.Array || vs.GetArrayLength() == 0)
            {
                Error("$.versions", "must be a non-empty array");
            }
            else
            {
                var i = 0;
                foreach (var v in vs.EnumerateArray())
                {
                    var version = ReadVersion(v, $"$.versions[{i}]", id ?? "", currency?.Code ?? currencyCode ?? "", currency, parent);
                    if (version is not null)
                    {
                        versions.Add(version);
                    }

                    i++;
                }

                CheckVersionRanges(versions);
                PriceBookValidation.CheckVersionGaps(vs, versions, periods, account, errors);
                PriceBookValidation.CheckMeters(vs, versions, periods, parent, errors);
            }

            var quotas = root.TryGetProperty("quotas", out var qs) ? ReadQuotas(qs, "$.quotas", account, currency) : [];
            return id is null || currency is null ? null : new PriceBook(id, currency, rounding, periods, account, parentId, versions.OrderBy(v => v.EffectiveFrom).ToList(), quotas);
        }

        private List<PriceBookQuota> ReadQuotas(JsonElement e, string path, string? bookAccount, Currency? currency)
        {
            var quotas = new List<PriceBookQuota>();
            if (e.ValueKind != JsonValueKind.Array)
            {
                Error(path, "must be an array of quotas");
                return quotas;
            }

            var seen = new Dictionary<PriceBookQuota, int>();
            var i = 0;
            foreach (var q in e.EnumerateArray())
            {
                var qpath = $"{path}[{i}]";
                var index = i++;
                if (!Object(q, qpath, "account", "sku", "metric", "threshold", "description"))
                {
                    continue;
                }

                var account = String(q, "account", qpath, bookAccount is null);
                if (bookAccount is not null && account is not null && account != bookAccount)
                {
                    Error($"{qpath}.account", $"'{account}' is not this contract's account '{bookAccount}' (omit it: a contract's quotas are its account's)");
                    continue;
                }

                account ??= bookAccount;
                var sku = String(q, "sku", qpath, false);
                QuotaMetric? metric = String(q, "metric", qpath, true) switch
                {
                    "quantity" => QuotaMetric.Quantity,
                    "amount" => QuotaMetric.Amount,
                    null => null,
                    var other => Unknown(other),
                };
                QuotaMetric? Unknown(string other)
                {
                    Error($"{qpath}.metric", $"'{other}' is not 'quantity' (per SKU) or 'amount' (all SKUs, in the book's currency)");
                    return null;
                }

                if (metric == QuotaMetric.Quantity && (!q.TryGetProperty("sku", out var skuElement) || skuElement.ValueKind == JsonValueKind.Null))
                {
                    Error($"{qpath}.sku", "is required for a quantity quota (the SKU whose quantity is limited)");
                    continue;
                }

                if (metric == QuotaMetric.Amount && sku is not null)
                {
                    Error($"{qpath}.sku", "must be absent for an amount quota (it sums all the account's SKUs)");
                    continue;
                }

                var threshold = Decimal(q, "threshold", qpath, true);
                if (threshold == 0)
                {
                    Error($"{qpath}.threshold", "must be above zero");
                    continue;
                }

                if (threshold is { } t && !LedgerDecimal.Fits(t))
                {
                    Error($"{qpath}.threshold", $"is stored in the quotas table: it must be {LedgerDecimal.RangeText}");
                    continue;
                }

                if (account is null || metric is null || threshold is null || currency is null || (metric == QuotaMetric.Quantity && sku is null))
                {
                    continue;
                }

                var quota = new PriceBookQuota(account, sku, metric.Value, threshold.Value, metric == QuotaMetric.Amount ? currency.Code : null);
                if (!seen.TryAdd(quota, index))
                {
                    Error(qpath, $"repeats {path}[{seen[quota]}]");
                    continue;
                }

                quotas.Add(quota);
            }

            return quotas;
        }

        private BillingPeriodRule? ReadPeriods(JsonElement e, string path)
        {
            if (!Object(e, path, "type", "anchor_day", "length_days", "epoch"))
            {
                return null;
            }

            switch (String(e, "type", path, true))
            {
                case "monthly":
                    var day = Decimal(e, "anchor_day", path, false, 1) ?? 1;
                    if (day > 31 || day != decimal.Truncate(day))
                    {
                        Error($"{path}.anchor_day", "must be a whole day of month from 1 to 31");
                        return null;
                    }

                    return BillingPeriodRule.Monthly((int)day);
                case "fixed":
                    var days = Decimal(e, "length_days", path, true, 1);
                    var epoch = Instant(e, "epoch", path, true);
                    return days is null || epoch is null ? null : BillingPeriodRule.Fixed(TimeSpan.FromTicks((long)(days.Value * TimeSpan.TicksPerDay)), epoch.Value);
                case null:
                    return null;
                case var other:
                    Error($"{path}.type", $"'{other}' is not 'monthly' or 'fixed'");
                    return null;
            }
        }

        private void CheckVersionRanges(List<PriceBookVersion> versions)
        {
            var sorted = versions.OrderBy(v => v.EffectiveFrom).ToList();
            for (var i = 1; i < sorted.Count; i++)
            {
                var prev = sorted[i - 1];
                if (prev.EffectiveTo is null || sorted[i].EffectiveFrom < prev.EffectiveTo)
                {
                    Error("$.versions", $"versions '{prev.Version}' and '{sorted[i].Version}' overlap: effective ranges are [from, to) and must not intersect");
                }
            }

            foreach (var dup in versions.GroupBy(v => v.Version).Where(g => g.Count() > 1))
            {
                Error("$.versions", $"version name '{dup.Key}' is used {dup.Count()} times");
            }
        }

        private PriceBookVersion? ReadVersion(JsonElement v, string path, string bookId, string currencyCode, Currency? bookCurrency, PriceBook? parent)
        {
            if (!Object(v, path, "version", "effective_from", "effective_to", "prices", "fees", "minimum_commitment", "description", "currency_options"))
            {
                return null;
            }

            var name = String(v, "version", path, true);
            var from = WholeHour(Instant(v, "effective_from", path, true), $"{path}.effective_from");
            var to = WholeHour(Instant(v, "effective_to", path, false), $"{path}.effective_to");
            if (from is not null && to is not null && to <= from)
            {
                Error($"{path}.effective_to", "must be after effective_from");
            }

            var prices = new Dictionary<string, SkuPrice>(StringComparer.Ordinal);
            var optionPrices = new Dictionary<string, Dictionary<string, SkuPrice>>(StringComparer.Ordinal);
            if (!v.TryGetProperty("prices", out var ps) || ps.ValueKind != JsonValueKind.Object)
            {
                Error($"{path}.prices", "must be an object of SKU -> price");
            }
            else
            {
                foreach (var p in ps.EnumerateObject())
                {
                    var ppath = $"{path}.prices[\"{p.Name}\"]";
                    if (parent is not null && !parent.Versions.Any(pv => pv.Prices.ContainsKey(p.Name)))
                    {
                        Error(ppath, $"overrides SKU '{p.Name}', which the list book '{parent.Id}' does not price");
                    }

                    var price = ReadPrice(p.Name, p.Value, ppath);
                    if (price is not null)
                    {
                        prices[p.Name] = price;
                        if (p.Value.TryGetProperty("currency_options", out var options))
                        {
                            foreach (var (code, option) in ReadPriceOptions(p.Name, p.Value, price, options, $"{ppath}.currency_options", bookCurrency))
                            {
                                (optionPrices.TryGetValue(code, out var inCode) ? inCode : optionPrices[code] = new(StringComparer.Ordinal))[p.Name] = option;
                            }
                        }
                    }
                }
            }

            var fees = new List<RecurringFee>();
            if (v.TryGetProperty("fees", out var fs))
            {
                if (fs.ValueKind != JsonValueKind.Array)
                {
                    Error($"{path}.fees", "must be an array");
                }
                else
                {
                    var i = 0;
                    foreach (var f in fs.EnumerateArray())
                    {
                        var fpath = $"{path}.fees[{i++}]";
                        if (!Object(f, fpath, "id", "amount", "prorate", "currency_options"))
                        {
                            continue;
                        }

                        var fid = String(f, "id", fpath, true);
                        var amount = Decimal(f, "amount", fpath, true);
                        var prorate = f.TryGetProperty("prorate", out var pr) && pr.ValueKind == JsonValueKind.True;
                        var feeOptions = f.TryGetProperty("currency_options", out var fo) ? ReadAmountOptions(fo, $"{fpath}.currency_options", "amount", bookCurrency) : [];
                        if (fid is not null && amount is not null)
                        {
                            fees.Add(new RecurringFee(fid, amount.Value, prorate) { CurrencyAmounts = feeOptions });
                        }
                    }
                }
            }

            var commitment = Decimal(v, "minimum_commitment", path, false);
            var commitmentOptions = new Dictionary<string, decimal>(StringComparer.Ordinal);
            if (v.TryGetProperty("currency_options", out var vo))
            {
                commitmentOptions = ReadAmountOptions(vo, $"{path}.currency_options", "minimum_commitment", bookCurrency);
                if (commitment is null && commitmentOptions.Count > 0)
                {
                    Error($"{path}.minimum_commitment", $"is required with a minimum_commitment in another currency ({string.Join(", ", commitmentOptions.Keys)}): the book's own currency ({currencyCode}) needs one too");
                }
            }

            CheckCurrencyCoverage(path, v, currencyCode, optionPrices.Keys, fees, commitment, commitmentOptions);
            if (name is null || from is null)
            {
                return null;
            }

            return new PriceBookVersion(name, from.Value, to, prices, fees, commitment, Hash(bookId, currencyCode, v),
                optionPrices.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<string, SkuPrice>)kv.Value, StringComparer.Ordinal), commitmentOptions);
        }

        // The amount fields of each model: what a currency option restates (every other field is shared by all currencies).
        private static string[] AmountFields(PricingModel model) => model switch
        {
            PricingModel.PerUnit => ["unit_price"],
            PricingModel.Graduated or PricingModel.Volume => ["tiers"],
            PricingModel.Package => ["package_price"],
            _ => ["fixed_fee", "per_transaction_min", "per_transaction_max", "free_amount"],
        };

        private static string ModelName(PricingModel model) => model switch
        {
            PricingModel.PerUnit => "per_unit",
            PricingModel.Graduated => "graduated",
            PricingModel.Volume => "volume",
            PricingModel.Package => "package",
            _ => "percentage",
        };

        private static string Member(string path, string key) => JsonDuplicateKeyCheck.IsPlainName(key) ? $"{path}.{key}" : $"{path}[\"{key}\"]";

        /// <summary>
        /// The entries of a <c>currency_options</c> object: a known ISO 4217 code other than the book's, each an object.
        /// Every bad key is reported at its own path (a repeated key, by the duplicate-key check, at the second one).
        /// </summary>
        private List<(Currency Currency, JsonElement Option, string Path)> OptionEntries(JsonElement options, string path, Currency? bookCurrency)
        {
            var entries = new List<(Currency, JsonElement, string)>();
            if (options.ValueKind != JsonValueKind.Object)
            {
                Error(path, "must be an object of ISO 4217 currency code -> the price in that currency, such as {\"EUR\": {...}}");
                return entries;
            }

            foreach (var o in options.EnumerateObject())
            {
                var opath = Member(path, o.Name);
                if (!Currency.TryGet(o.Name, out var currency))
                {
                    Error(opath, $"'{o.Name}' is not a known ISO 4217 currency code (upper case, such as EUR)");
                }
                else if (currency == bookCurrency)
                {
                    Error(opath, $"is the book's own currency: the fields beside currency_options are the {currency.Code} price; remove this option or change them");
                }
                else if (o.Value.ValueKind != JsonValueKind.Object)
                {
                    Error(opath, "must be an object");
                }
                else
                {
                    entries.Add((currency, o.Value, opath));
                }
            }

            return entries;
        }

        /// <summary>
        /// A price's currency options: each restates the price's amounts (<see cref="AmountFields"/>) in its currency and
        /// shares every other field with it; it may repeat <c>model</c>, which must be the price's. Parsed as the price with
        /// its amounts replaced, so every check of a price applies (tiers ascend, the last tier is open, ...), at the
        /// option's paths. Amounts charged as written (flat fees, block, package and fixed fees, per-transaction bounds)
        /// may not be finer than the currency's minor units; unit prices and rates may (they multiply a quantity).
        /// </summary>
        private List<(string Code, SkuPrice Price)> ReadPriceOptions(string sku, JsonElement priceJson, SkuPrice price, JsonElement options, string path, Currency? bookCurrency)
        {
            var parsed = new List<(string, SkuPrice)>();
            var model = ModelName(price.Model);
            var amounts = AmountFields(price.Model);
            var allowed = $"model, {string.Join(", ", amounts)}";
            foreach (var (currency, option, opath) in OptionEntries(options, path, bookCurrency))
            {
                var before = errors.Count;
                foreach (var f in option.EnumerateObject())
                {
                    if (f.Name == "model")
                    {
                        if (f.Value.ValueKind != JsonValueKind.String || f.Value.GetString() != model)
                        {
                            Error($"{opath}.model", $"{(f.Value.ValueKind == JsonValueKind.String ? $"'{f.Value.GetString()}'" : "a non-string")} is not the price's model '{model}': a currency option prices the same model in another currency (omit model, or give '{model}')");
                        }
                    }
                    else if (Array.IndexOf(amounts, f.Name) < 0)
                    {
                        Error($"{opath}.{f.Name}", priceJson.TryGetProperty(f.Name, out _) || f.Name is "unit" or "convert" or "included_units" or "description" or "package_size" or "package_rounding" or "rate" or "flat_fee_at_zero" or "free_transactions" or "meter"
                            ? $"is shared by every currency of the price: set it once on the price (a {model} currency option has: {allowed})"
                            : $"does not belong to a {model} currency option (it has: {allowed})");
                    }
                }

                foreach (var amount in amounts)
                {
                    if (priceJson.TryGetProperty(amount, out _) && !option.TryGetProperty(amount, out _))
                    {
                        Error($"{opath}.{amount}", $"is required: the price has a {amount} in {bookCurrency?.Code ?? "the book's currency"}, and an amount is never carried into another currency");
                    }
                }

                if (errors.Count > before)
                {
                    continue;
                }

                CheckMinorUnits(option, opath, currency);
                var merged = new System.Buffers.ArrayBufferWriter<byte>();
                using (var w = new Utf8JsonWriter(merged))
                {
                    w.WriteStartObject();
                    foreach (var p in priceJson.EnumerateObject())
                    {
                        if (p.Name != "currency_options" && Array.IndexOf(amounts, p.Name) < 0)
                        {
                            p.WriteTo(w);
                        }
                    }

                    foreach (var p in option.EnumerateObject())
                    {
                        if (p.Name != "model")
                        {
                            p.WriteTo(w);
                        }
                    }

                    w.WriteEndObject();
                }

                using var doc = JsonDocument.Parse(merged.WrittenMemory);
                var optionPrice = ReadPrice(sku, doc.RootElement, opath);
                if (optionPrice is not null && errors.Count == before)
                {
                    parsed.Add((currency.Code, optionPrice));
                }
            }

            return parsed;
        }

        /// <summary>The currency options of a fee (<c>amount</c>) or of a version's commitment (<c>minimum_commitment</c>): one amount per currency.</summary>
        private Dictionary<string, decimal> ReadAmountOptions(JsonElement options, string path, string field, Currency? bookCurrency)
        {
            var amounts = new Dictionary<string, decimal>(StringComparer.Ordinal);
            foreach (var (currency, option, opath) in OptionEntries(options, path, bookCurrency))
            {
                if (!Object(option, opath, field))
                {
                    continue;
                }

                var before = errors.Count;
                if (Decimal(option, field, opath, true) is { } amount)
                {
                    CheckMinorUnits(option, opath, currency);
                    if (errors.Count == before)
                    {
                        amounts[currency.Code] = amount;
                    }
                }
            }

            return amounts;
        }

        // Amounts an option charges as written, not per unit: finer than the currency's minor units, they could never be billed exactly.
        private void CheckMinorUnits(JsonElement option, string path, Currency currency)
        {
            foreach (var p in option.EnumerateObject())
            {
                if (p.Name is "flat_fee" or "block_price" or "package_price" or "fixed_fee" or "per_transaction_min" or "per_transaction_max" or "amount" or "minimum_commitment")
                {
                    CheckMinorUnitsOf(p.Value, $"{path}.{p.Name}", currency);
                }
                else if (p.Name == "tiers" && p.Value.ValueKind == JsonValueKind.Array)
                {
                    var i = 0;
                    foreach (var t in p.Value.EnumerateArray())
                    {
                        if (t.ValueKind == JsonValueKind.Object)
                        {
                            CheckMinorUnits(t, $"{path}.tiers[{i}]", currency);
                        }

                        i++;
                    }
                }
            }
        }

        private void CheckMinorUnitsOf(JsonElement value, string path, Currency currency)
        {
            var text = value.ValueKind switch { JsonValueKind.Number => value.GetRawText(), JsonValueKind.String => value.GetString(), _ => null };
            if (text is not null && decimal.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out var d)
                && decimal.Round(d, currency.MinorUnits) != d)
            {
                Error(path, $"{text} has more fractional digits than {currency.Code}'s {currency.MinorUnits} minor unit(s): an amount charged as written must be a whole number of {currency.Code}'s minor units (unit prices may be finer)");
            }
        }

        /// <summary>
        /// A version that prices in a currency (any option of a price, fee or its commitment) must charge every fee and its
        /// commitment in it too: otherwise an account billed in it would silently pay no fee, or have no commitment.
        /// </summary>
        private void CheckCurrencyCoverage(string path, JsonElement v, string bookCurrency, IEnumerable<string> priceCurrencies, List<RecurringFee> fees,
            decimal? commitment, Dictionary<string, decimal> commitmentOptions)
        {
            var offered = new SortedSet<string>(priceCurrencies, StringComparer.Ordinal);
            offered.UnionWith(commitmentOptions.Keys);
            foreach (var fee in fees)
            {
                offered.UnionWith(fee.CurrencyAmounts.Keys);
            }

            if (offered.Count == 0)
            {
                return;
            }

            var list = string.Join(", ", offered.Prepend(bookCurrency));
            if (v.TryGetProperty("fees", out var fs) && fs.ValueKind == JsonValueKind.Array)
            {
                var i = 0;
                foreach (var f in fs.EnumerateArray())
                {
                    var fee = f.ValueKind == JsonValueKind.Object && f.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
                        ? fees.FirstOrDefault(x => x.Id == id.GetString())
                        : null;
                    if (fee is not null && offered.Where(c => !fee.CurrencyAmounts.ContainsKey(c)).ToList() is { Count: > 0 } missing)
                    {
                        Error($"{path}.fees[{i}].currency_options", $"has no amount in {string.Join(", ", missing)}, but the version prices in {list}: an account billed in {missing[0]} would pay no '{fee.Id}' fee; add \"{missing[0]}\": {{\"amount\": ...}}");
                    }

                    i++;
                }
            }

            if (commitment is not null && offered.Where(c => !commitmentOptions.ContainsKey(c)).ToList() is { Count: > 0 } uncommitted)
            {
                Error($"{path}.currency_options", $"has no minimum_commitment in {string.Join(", ", uncommitted)}, but the version prices in {list}: an account billed in {uncommitted[0]} would have no commitment; add \"{uncommitted[0]}\": {{\"minimum_commitment\": ...}}");
            }
        }

        private SkuPrice? ReadPrice(string sku, JsonElement e, string path)
        {
            var fieldErrorsFrom = errors.Count;
            _fieldsPath = path;
            _fieldsRead.Clear();
            if (!Object(e, path, "model", "unit", "unit_price", "tiers", "included_units", "convert", "package_size", "package_price",
                    "package_rounding", "rate", "fixed_fee", "per_transaction_min", "per_transaction_max", "description",
                    "flat_fee_at_zero", "free_transactions", "free_amount", "currency_options", "group_by", "meter"))
            {
                return null;
            }

            var before = errors.Count;
            var modelText = String(e, "model", path, true);
            var unit = String(e, "unit", path, false) ?? "unit";
            var included = Decimal(e, "included_units", path, false) ?? 0;
            decimal divideBy = 1;
            var conversionRounding = QuantityRounding.None;
            Note(path, "description"); // free text, on every model
            Note(path, "group_by"); // on every model
            var groupBy = ReadGroupBy(e, path);
            // meter: on every model, checked by its own reader (MeterReader) and exempt in PriceBookValidation.CheckModelFields.
            var meter = e.TryGetProperty("meter", out var meterJson) ? new MeterReader(errors).Read(meterJson, $"{path}.meter") : MeterDefinition.Sum;
            if (Property(e, "convert", path, out var conv) && Object(conv, $"{path}.convert", "divide_by", "round"))
            {
                divideBy = Decimal(conv, "divide_by", $"{path}.convert", true) ?? 1;
                if (divideBy == 0)
                {
                    Error($"{path}.convert.divide_by", "must be greater than zero");
                }

                conversionRounding = ReadQuantityRounding(conv, "round", $"{path}.convert", QuantityRounding.None);
            }

            PricingModel model;
            switch (modelText)
            {
                case "per_unit":
                    model = PricingModel.PerUnit;
                    Decimal(e, "unit_price", path, true);
                    break;
                case "graduated":
                    model = PricingModel.Graduated;
                    break;
                case "volume":
                    model = PricingModel.Volume;
                    break;
                case "package":
                    model = PricingModel.Package;
                    var size = Decimal(e, "package_size", path, true);
                    if (size == 0)
                    {
                        Error($"{path}.package_size", "must be greater than zero");
                    }

                    Decimal(e, "package_price", path, true);
                    ReadQuantityRounding(e, "package_rounding", path, QuantityRounding.Up);
                    break;
                case "percentage":
                    model = PricingModel.Percentage;
                    var rate = Decimal(e, "rate", path, true);
                    if (rate > 100)
                    {
                        Error($"{path}.rate", "is a percentage and must be at most 100");
                    }

                    var min = Decimal(e, "per_transaction_min", path, false);
                    var max = Decimal(e, "per_transaction_max", path, false);
                    Decimal(e, "fixed_fee", path, false);
                    if (min is not null && max is not null && min > max)
                    {
                        Error($"{path}.per_transaction_min", "must not exceed per_transaction_max");
                    }

                    ReadFreeUnits(e, path, included, conversionRounding);
                    break;
                case null:
                    return null;
                default:
                    Error($"{path}.model", $"'{modelText}' is not one of per_unit, graduated, volume, package, percentage");
                    return null;
            }

            var flatFeeAtZero = true;
            if (model is PricingModel.Graduated or PricingModel.Volume)
            {
                Note(path, "flat_fee_at_zero"); // read raw below: a field of the tiered models only (PriceBookValidation.CheckModelFields)
            }

            if (e.TryGetProperty("flat_fee_at_zero", out var fz))
            {
                if (model is not (PricingModel.Graduated or PricingModel.Volume))
                {
                    Error($"{path}.flat_fee_at_zero", $"only graduated and volume prices have a first tier whose flat fee a zero quantity could pay, not {modelText}");
                }
                else if (fz.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    Error($"{path}.flat_fee_at_zero", "must be true (a zero quantity pays the first tier's flat fee, the default) or false (it pays nothing)");
                }
                else
                {
                    flatFeeAtZero = fz.GetBoolean();
                }
            }

            if (model != PricingModel.Percentage)
            {
                foreach (var name in (ReadOnlySpan<string>)["free_transactions", "free_amount"])
                {
                    if (e.TryGetProperty(name, out _))
                    {
                        Error($"{path}.{name}", $"only percentage prices have free transactions or a free amount, not {modelText} (use included_units)");
                    }
                }
            }

            IReadOnlyList<PriceTier>? tiers = null;
            if (model is PricingModel.Graduated or PricingModel.Volume)
            {
                tiers = ReadTiers(e, path);
            }
            else if (e.TryGetProperty("tiers", out _))
            {
                Error($"{path}.tiers", $"only graduated and volume prices have tiers, not {modelText}");
            }

            PriceBookValidation.CheckModelFields(e, path, modelText, _fieldsRead, errors, fieldErrorsFrom);
            _fieldsPath = null;
            if (errors.Count > before)
            {
                return null;
            }

            var price = new SkuPrice(sku, model, unit,
                unitPrice: Decimal(e, "unit_price", path, false) ?? 0,
                tiers: tiers,
                includedUnits: included,
                divideBy: divideBy,
                conversionRounding: conversionRounding,
                packageSize: Decimal(e, "package_size", path, false) ?? 1,
                packagePrice: Decimal(e, "package_price", path, false) ?? 0,
                packageRounding: ReadQuantityRounding(e, "package_rounding", path, QuantityRounding.Up),
                percentageRate: Decimal(e, "rate", path, false) ?? 0,
                fixedFeePerTransaction: Decimal(e, "fixed_fee", path, false) ?? 0,
                perTransactionMin: Decimal(e, "per_transaction_min", path, false),
                perTransactionMax: Decimal(e, "per_transaction_max", path, false),
                flatFeeAtZero: flatFeeAtZero,
                freeTransactions: model == PricingModel.Percentage ? (long)(Decimal(e, "free_transactions", path, false) ?? 0) : 0,
                freeAmount: model == PricingModel.Percentage ? Decimal(e, "free_amount", path, false) ?? 0 : 0)
            {
                GroupBy = groupBy,
                Meter = meter ?? MeterDefinition.Sum,
            };
            if (price.NeedsTransactions && !price.Meter.IsSum)
            {
                // Rated transaction by transaction, in the period's order: only a sum's quantity is a sum of transactions.
                Error($"{path}.meter.aggregation", $"a percentage price with per-transaction bounds, free transactions or a free amount with a fixed fee rates each record's amount, so it needs the sum meter, not {price.Meter.AggregationName}");
                return null;
            }

            return price;
        }

        /// <summary>
        /// <c>group_by</c>: 1 to <see cref="MaxGroupKeys"/> dimension keys, each 1-64 characters of <c>A-Z a-z 0-9 _ . -</c>
        /// (the keys <c>GET /v1/usage?group_by</c> takes), no repeats; sorted ordinally. Absent: no grouping.
        /// </summary>
        private string[] ReadGroupBy(JsonElement e, string path)
        {
            if (!e.TryGetProperty("group_by", out var g))
            {
                return [];
            }

            if (g.ValueKind != JsonValueKind.Array || g.GetArrayLength() is 0 or > MaxGroupKeys)
            {
                Error($"{path}.group_by", $"must be an array of 1 to {MaxGroupKeys} dimension keys (omit it for one line per SKU)");
                return [];
            }

            var keys = new List<string>();
            var i = 0;
            foreach (var k in g.EnumerateArray())
            {
                var text = k.ValueKind == JsonValueKind.String ? k.GetString()! : null;
                if (text is null || text.Length is 0 or > 64 || !text.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
                {
                    Error($"{path}.group_by[{i}]", "must be a dimension key of 1-64 characters of A-Z a-z 0-9 _ . -");
                }
                else if (keys.Contains(text, StringComparer.Ordinal))
                {
                    Error($"{path}.group_by[{i}]", $"'{text}' is named twice");
                }
                else
                {
                    keys.Add(text);
                }

                i++;
            }

            return [.. keys.Order(StringComparer.Ordinal)];
        }

        /// <summary>A percentage price's free transactions and free amount (Lago's free units per events and per total aggregation).</summary>
        private void ReadFreeUnits(JsonElement e, string path, decimal included, QuantityRounding conversionRounding)
        {
            if (conversionRounding != QuantityRounding.None)
            {
                Error($"{path}.convert.round", "a percentage applies to an exact amount: convert it with round none");
            }

            var freeTransactions = Decimal(e, "free_transactions", path, false);
            if (freeTransactions is { } n && (n != decimal.Truncate(n) || n > long.MaxValue))
            {
                Error($"{path}.free_transactions", "must be a whole number of transactions");
            }

            var freeAmount = Decimal(e, "free_amount", path, false);
            if (included > 0 && (freeTransactions > 0 || freeAmount > 0))
            {
                Error($"{path}.included_units", "cannot be combined with free_transactions or free_amount: included_units frees part of the amount from the rate only, free_amount also frees the fixed fee of the transactions inside it; use one");
            }
        }

        private QuantityRounding ReadQuantityRounding(JsonElement e, string name, string path, QuantityRounding fallback)
        {
            var text = String(e, name, path, false);
            switch (text)
            {
                case null: return fallback;
                case "none": return QuantityRounding.None;
                case "up": return QuantityRounding.Up;
                case "down": return QuantityRounding.Down;
                default:
                    Error($"{path}.{name}", $"'{text}' is not one of none, up, down");
                    return fallback;
            }
        }

        private List<PriceTier>? ReadTiers(JsonElement e, string path)
        {
            if (!Property(e, "tiers", path, out var ts) || ts.ValueKind != JsonValueKind.Array || ts.GetArrayLength() == 0)
            {
                Error($"{path}.tiers", "must be a non-empty array");
                return null;
            }

            var tiers = new List<PriceTier>();
            decimal previous = 0;
            var count = ts.GetArrayLength();
            var i = 0;
            foreach (var t in ts.EnumerateArray())
            {
                var tpath = $"{path}.tiers[{i}]";
                if (!Object(t, tpath, "up_to", "unit_price", "flat_fee", "block_size", "block_price"))
                {
                    i++;
                    continue;
                }

                var upTo = Decimal(t, "up_to", tpath, false);
                var unitPrice = Decimal(t, "unit_price", tpath, false) ?? 0;
                var flat = Decimal(t, "flat_fee", tpath, false) ?? 0;
                var last = i == count - 1;
                if (upTo is null && !last)
                {
                    Error($"{tpath}.up_to", "only the last tier may be open-ended (up_to null)");
                }
                else if (upTo is not null && last)
                {
                    Error($"{tpath}.up_to", "the last tier must be open-ended (up_to null) so every quantity is priced");
                }
                else if (upTo is not null && upTo <= previous)
                {
                    Error($"{tpath}.up_to", $"tiers must ascend: {upTo} is not above the previous bound {previous}");
                }

                var blockSize = Decimal(t, "block_size", tpath, false);
                var blockPrice = Decimal(t, "block_price", tpath, false);
                if (blockSize is not null || t.TryGetProperty("block_price", out _))
                {
                    // Kill Bill's tiered blocks: the tier prices started blocks of its own size.
                    if (blockSize is null or 0)
                    {
                        Error($"{tpath}.block_size", "must be greater than zero: a block_price prices started blocks of block_size units");
                    }
                    else if (blockPrice is null)
                    {
                        Error($"{tpath}.block_price", "is required with a block_size: the price of one started block");
                    }
                    else if (t.TryGetProperty("unit_price", out _))
                    {
                        Error($"{tpath}.unit_price", "a tier with a block_size is priced per block by block_price, not per unit");
                    }
                    else if (upTo is not null && upTo > previous && (upTo.Value - previous) % blockSize.Value != 0)
                    {
                        Error($"{tpath}.block_size", $"the tier's {upTo.Value - previous} units (above {previous} up to {upTo}) must be a whole number of blocks of {blockSize}");
                    }

                    unitPrice = blockPrice ?? 0;
                }

                if (!t.TryGetProperty("unit_price", out _) && !t.TryGetProperty("flat_fee", out _) && !t.TryGetProperty("block_price", out _))
                {
                    Error(tpath, "needs a unit_price (or a block_size and block_price), a flat_fee or both");
                }

                tiers.Add(new PriceTier(upTo, unitPrice, flat, blockSize));
                previous = upTo ?? previous;
                i++;
            }

            return tiers;
        }

        /// <summary>
        /// SHA-256 over the book id, currency and the canonical JSON of the version (object keys sorted, no spaces),
        /// without its <c>effective_to</c>: the end is set by the version that supersedes it, and ending a version must
        /// not change the lineage of the lines it already rated.
        /// </summary>
        private static string Hash(string bookId, string currency, JsonElement version)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("book", bookId);
                w.WriteString("currency", currency);
                w.WritePropertyName("version");
                w.WriteStartObject();
                foreach (var p in version.EnumerateObject().Where(p => p.Name != "effective_to").OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    w.WritePropertyName(p.Name);
                    WriteCanonical(w, p.Value);
                }

                w.WriteEndObject();
                w.WriteEndObject();
            }

            return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
        }

        private static void WriteCanonical(Utf8JsonWriter w, JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    w.WriteStartObject();
                    foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                    {
                        w.WritePropertyName(p.Name);
                        WriteCanonical(w, p.Value);
                    }

                    w.WriteEndObject();
                    break;
                case JsonValueKind.Array:
                    w.WriteStartArray();
                    foreach (var item in e.EnumerateArray())
                    {
                        WriteCanonical(w, item);
                    }

                    w.WriteEndArray();
                    break;
                default:
                    e.WriteTo(w);
                    break;
            }
        }
    }

    /// <summary>Encodes text as UTF-8 (for tests and the API).</summary>
    public static byte[] Utf8(string json) => Encoding.UTF8.GetBytes(json);
}
