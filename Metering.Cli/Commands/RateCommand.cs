using System.Globalization;
using System.Text.Json;
using Metering.Cli.Arguments;
using Metering.Rating.Incremental;
using Metering.Rating.Invoicing;
using Metering.Rating.Money;
using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;
using Metering.Rating.Pricing;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering rate</c>: rates usage lines with a price book and prints line items (docs/pricebooks.md).
/// Several lines of one (account, SKU, period) are successive windows: each gets its incremental charge, and
/// their amounts sum exactly to the price of the period total.
/// </summary>
public sealed class RateCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["rate"];

    public string Summary => "rate usage lines with a price book; NDJSON line items with tier breakdown and lineage";

    public string Usage => "usage: metering rate --pricebook FILE [--contracts FILE[,FILE...]] [--accounts FILE] --usage FILE|- [--output FILE|-] [--period-lines]\n\n" +
        "  --pricebook FILE           the list price book\n" +
        "  --contracts FILES          per-account contract books (comma-separated)\n" +
        "  --accounts FILE            accounts' billing currencies: the API's account objects {\"account\",\"currency\",...}, one per\n" +
        "                             line, a JSON array or a GET /v1/accounts page; others are rated in the book's currency\n" +
        "  --usage FILE|-             NDJSON lines {\"account\",\"sku\",\"quantity\",\"period_start\"?,\"transactions\"?}\n" +
        "  --output FILE|-            line items (default stdout)\n" +
        "  --period-lines             also emit each (account, period)'s recurring fees and commitment true-up\n" +
        "  --now TIME                 the instant that picks the period of lines without period_start (default: the clock)\n" +
        "\nexit codes: 0 every line priced, 1 some lines unpriced (flagged in the output), 2 usage error";

    private sealed record PeriodKey(string Account, string Sku, DateTimeOffset Start);

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var listPath = args.Required("pricebook");
        var contractPaths = (args.String("contracts") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var accountsPath = args.String("accounts");
        var usage = args.Required("usage");
        var output = args.String("output", "-")!;
        var periodLines = args.Has("period-lines");
        var nowText = args.String("now");
        args.RejectUnknown();
        var now = DateTimeOffset.UtcNow;
        if (nowText is not null && !DateTimeOffset.TryParse(nowText, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out now))
        {
            throw new CliUsageException($"--now expects an RFC 3339 time, got '{nowText}'");
        }

        PriceCatalog catalog;
        try
        {
            var list = PriceBookLoader.LoadFile(listPath);
            catalog = new PriceCatalog(list, contractPaths.Select(p => PriceBookLoader.LoadFile(p, list)).ToList());
            if (accountsPath is not null)
            {
                // Each account is priced in its billing currency, selected as the engine selects it (PriceCatalog.Resolve).
                catalog = catalog.WithAccountCurrencies(AccountCurrencyFile.Read(accountsPath, list.Id));
            }
        }
        catch (PriceBookException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        catch (FileNotFoundException e)
        {
            throw new CliUsageException(e.Message);
        }

        var states = new Dictionary<PeriodKey, PeriodRatingState>();
        var usageCharged = new Dictionary<(string Account, DateTimeOffset Start), decimal>();
        var unpriced = 0;
        var lineNumber = 0;
        using var input = usage == "-" ? new StreamReader(Console.OpenStandardInput()) : new StreamReader(usage);
        await using var sink = output == "-" ? Console.OpenStandardOutput() : File.Create(output);
        await using var w = new Utf8JsonWriter(sink, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        while (await input.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            w.WriteStartObject();
            w.WriteNumber("line", lineNumber);
            if (!TryParseUsage(line, out var account, out var sku, out var quantity, out var periodAt, out var transactions, out var problem))
            {
                unpriced++;
                w.WriteBoolean("unpriced", true);
                w.WriteString("reason", "invalid_usage");
                w.WriteString("detail", problem);
                EndLine(w, sink);
                continue;
            }

            var period = (catalog.List?.Periods ?? BillingPeriodRule.CalendarMonth).PeriodOf(periodAt ?? now);
            w.WriteString("account", account);
            w.WriteString("sku", sku);
            w.WriteString("period_start", Iso(period.Start));
            w.WriteString("period_end", Iso(period.End));
            w.WriteString("quantity", quantity.ToString(CultureInfo.InvariantCulture));
            // Prices are resolved at the period's start: one version prices the whole period.
            var resolution = catalog.Resolve(account, sku, period.Start);
            if (!resolution.IsPriced || (resolution.Price!.NeedsTransactions && transactions != 1))
            {
                unpriced++;
                w.WriteBoolean("unpriced", true);
                w.WriteString("reason", resolution.UnpricedReason ?? "per_transaction_bounds_need_transactions");
                w.WriteString("detail", resolution.Detail ?? $"'{sku}' is rated per transaction (per-transaction bounds, free transactions or a free amount with a fixed fee): give one usage line per transaction");
                EndLine(w, sink);
                continue;
            }

            if (!resolution.Price.Meter.IsSum)
            {
                // A usage line is a sum over some window; a max, a gauge's integral or a p95 is not a function of sums,
                // so it is never priced here as one (the streaming engine meters it from the records).
                unpriced++;
                w.WriteBoolean("unpriced", true);
                w.WriteString("reason", "meter_not_rated_from_usage_lines");
                w.WriteString("detail", $"'{sku}' is metered by {resolution.Price.Meter.AggregationName} (docs/meters.md), which a usage line's sum cannot give: rate it with the streaming engine (`metering stream`)");
                EndLine(w, sink);
                continue;
            }

            var price = resolution.Price;
            var book = resolution.Book!;
            var currency = resolution.Currency ?? book.Currency;
            var key = new PeriodKey(account, sku, period.Start);
            var state = states.GetValueOrDefault(key);
            var charge = price.NeedsTransactions
                ? WindowRater.RateTransaction(price, ref state, quantity, currency.MinorUnits, book.Rounding)
                : WindowRater.RateWindow(price, ref state, quantity, transactions, currency.MinorUnits, book.Rounding);
            states[key] = state;
            usageCharged[(account, period.Start)] = usageCharged.GetValueOrDefault((account, period.Start)) + charge;

            w.WriteString("type", charge < 0 ? "usage_credit" : "usage");
            w.WriteString("amount", MoneyText(charge, currency));
            w.WriteString("currency", currency.Code);
            w.WriteString("unit", price.Unit);
            w.WriteString("model", price.Model.ToString());
            w.WriteString("period_quantity", state.Quantity.ToString(CultureInfo.InvariantCulture));
            w.WriteString("billable_quantity", price.BillableQuantity(state.Quantity).ToString(CultureInfo.InvariantCulture));
            w.WriteString("period_amount", MoneyText(state.Charged, currency));
            WriteTiers(w, price, state.Quantity);
            w.WriteString("price_book", book.Id);
            w.WriteString("price_book_kind", book.IsContract ? "contract" : "list");
            w.WriteString("version", resolution.Version!.Version);
            w.WriteString("version_hash", resolution.Version.Hash);
            EndLine(w, sink);
        }

        if (periodLines)
        {
            foreach (var ((account, start), charged) in usageCharged.OrderBy(kv => kv.Key.Account, StringComparer.Ordinal).ThenBy(kv => kv.Key.Start))
            {
                WritePeriodLines(w, sink, catalog, account, start, charged);
            }
        }

        await w.FlushAsync(cancellationToken).ConfigureAwait(false);
        Console.Error.WriteLine($"rate: {lineNumber} line(s), {unpriced} unpriced");
        return unpriced == 0 ? 0 : 1;
    }

    private static void WritePeriodLines(Utf8JsonWriter w, Stream sink, PriceCatalog catalog, string account, DateTimeOffset start, decimal charged)
    {
        foreach (var line in PeriodChargeLines.Of(catalog, account, start, _ => charged))
        {
            var what = line.Kind == PeriodChargeLine.Fee ? line.FeeId! : $"minimum {line.Commitment} vs usage {line.UsageCharged}";
            WritePeriodLine(w, sink, line.Kind, what, account, line.Period, line.Amount, line.Currency, line.Book, line.Version);
        }
    }

    private static void WritePeriodLine(Utf8JsonWriter w, Stream sink, string type, string what, string account, BillingPeriod period, decimal amount, Currency currency, PriceBook book,
        PriceBookVersion version)
    {
        w.WriteStartObject();
        w.WriteString("type", type);
        w.WriteString("description", what);
        w.WriteString("account", account);
        w.WriteString("period_start", Iso(period.Start));
        w.WriteString("period_end", Iso(period.End));
        w.WriteString("amount", MoneyText(amount, currency));
        w.WriteString("currency", currency.Code);
        w.WriteString("price_book", book.Id);
        w.WriteString("version", version.Version);
        w.WriteString("version_hash", version.Hash);
        EndLine(w, sink);
    }

    private static void WriteTiers(Utf8JsonWriter w, SkuPrice price, decimal cumulative)
    {
        if (price.Model is not (PricingModel.Graduated or PricingModel.Volume))
        {
            return;
        }

        // The price's own breakdown, so the tiers sum exactly to the amount (started blocks, a flat fee at zero).
        w.WriteStartArray("tiers");
        foreach (var charge in price.TierBreakdown(cumulative))
        {
            if (charge.Quantity == 0 && charge.Amount == 0)
            {
                continue;
            }

            var tier = price.Tiers[charge.Tier - 1];
            w.WriteStartObject();
            w.WriteNumber("tier", charge.Tier);
            if (tier.UpTo is { } upTo)
            {
                w.WriteString("up_to", upTo.ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                w.WriteNull("up_to");
            }

            w.WriteString("units", charge.Quantity.ToString(CultureInfo.InvariantCulture));
            if (tier.BlockSize is { } blockSize)
            {
                w.WriteString("block_size", blockSize.ToString(CultureInfo.InvariantCulture));
                w.WriteString("block_price", tier.UnitPrice.ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                w.WriteString("unit_price", tier.UnitPrice.ToString(CultureInfo.InvariantCulture));
            }

            w.WriteString("flat_fee", tier.FlatFee.ToString(CultureInfo.InvariantCulture));
            w.WriteString("amount", charge.Amount.ToString(CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void EndLine(Utf8JsonWriter w, Stream sink)
    {
        w.WriteEndObject();
        w.Flush();
        sink.WriteByte((byte)'\n');
        w.Reset();
    }

    /// <summary>An amount with exactly the currency's minor digits ("20.00", "0", "1.500").</summary>
    private static string MoneyText(decimal amount, Currency currency) =>
        amount.ToString("F" + currency.MinorUnits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static bool TryParseUsage(string line, out string account, out string sku, out decimal quantity, out DateTimeOffset? periodAt, out long transactions, out string problem)
    {
        account = sku = problem = "";
        quantity = 0;
        periodAt = null;
        transactions = 1;
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                problem = "a usage line must be a JSON object";
                return false;
            }

            if (!root.TryGetProperty("account", out var a) || a.ValueKind != JsonValueKind.String || a.GetString()!.Length == 0 ||
                !root.TryGetProperty("sku", out var s) || s.ValueKind != JsonValueKind.String || s.GetString()!.Length == 0)
            {
                problem = "account and sku must be non-empty strings";
                return false;
            }

            account = a.GetString()!;
            sku = s.GetString()!;
            if (!root.TryGetProperty("quantity", out var q) ||
                !decimal.TryParse(q.ValueKind == JsonValueKind.String ? q.GetString() : q.GetRawText(), NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out quantity))
            {
                problem = "quantity must be a non-negative decimal";
                return false;
            }

            if (root.TryGetProperty("period_start", out var p) && p.ValueKind != JsonValueKind.Null)
            {
                if (p.ValueKind != JsonValueKind.String || !DateTimeOffset.TryParse(p.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var at))
                {
                    problem = "period_start must be an RFC 3339 instant";
                    return false;
                }

                periodAt = at;
            }

            if (root.TryGetProperty("transactions", out var t) && (!t.TryGetInt64(out transactions) || transactions < 0))
            {
                problem = "transactions must be a whole number >= 0";
                return false;
            }

            return true;
        }
        catch (JsonException e)
        {
            problem = "not valid JSON: " + e.Message;
            return false;
        }
    }
}
