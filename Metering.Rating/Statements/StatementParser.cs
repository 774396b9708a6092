using System.Globalization;
using System.Text;
using Metering.Rating.PeriodTotals;
using Metering.Rating.Periods;
using Metering.Rating.Pricing;

namespace Metering.Rating.Statements;

/// <summary>
/// Reads a statement back from its canonical serialisation (<see cref="StatementHash.CanonicalText"/>): the stored form
/// of a final statement. The statement is rebuilt from its lines, so its totals and content hash are derived again; a
/// text whose <c>total</c> records disagree with its lines, or any record that does not parse, throws
/// <see cref="FormatException"/> naming the line. Pure and thread-safe.
/// </summary>
public static class StatementParser
{
    /// <summary>Parses <paramref name="canonicalText"/>; the result's <see cref="StatementHash.CanonicalText"/> equals it.</summary>
    public static Statement Parse(string canonicalText)
    {
        ArgumentNullException.ThrowIfNull(canonicalText);
        var records = canonicalText.Split('\n');
        if (records.Length < 5 || records[0] != StatementHash.Header || records[^1].Length != 0)
        {
            throw new FormatException($"not a canonical statement: it must start with '{StatementHash.Header}' and end with a line feed");
        }

        string? account = null;
        BillingPeriod? period = null;
        StatementTerms? terms = null;
        var usage = new List<UsageLine>();
        var tiers = new List<TierCharge>();
        var fees = new List<FeeLine>();
        var commitments = new List<CommitmentLine>();
        var adjustments = new List<AdjustmentLine>();
        var totals = new List<string>();
        UsageLine? pending = null;

        void FlushUsage()
        {
            if (pending is not null)
            {
                usage.Add(pending with { Tiers = [.. tiers] });
                tiers.Clear();
                pending = null;
            }
        }

        for (var i = 1; i < records.Length - 1; i++)
        {
            var f = Fields(records[i]);
            try
            {
                if (f[0] != "tier")
                {
                    FlushUsage();
                }

                switch (f[0])
                {
                    case "account" when f.Length == 2:
                        account = Text(f[1]);
                        break;
                    case "period" when f.Length == 3:
                        period = new BillingPeriod(Instant(f[1])!.Value, Instant(f[2])!.Value);
                        break;
                    case "terms" when f.Length == 4:
                        terms = new StatementTerms(Instant(f[1])!.Value, Instant(f[2]), Text(f[3]));
                        break;
                    case "usage" when f.Length is >= 19 and <= 22:
                        // A grouped line has its group as the field after the SKU, a line of a price segment its
                        // stretch [from, to) after that (StatementHash.LineOf): 19 fields plain, 20 grouped, 21
                        // segmented, 22 both.
                        var group = f.Length is 20 or 22 ? Text(f[2])! : DimensionGroup.None;
                        DateTimeOffset? priceFrom = null, priceTo = null;
                        if (f.Length >= 21)
                        {
                            priceFrom = Instant(f[f.Length - 19]);
                            priceTo = Instant(f[f.Length - 18]);
                        }

                        f = [f[0], f[1], .. f[(f.Length - 17)..]];

                        pending = new UsageLine
                        {
                            Sku = Text(f[1])!,
                            Group = group,
                            PriceFrom = priceFrom,
                            PriceTo = priceTo,
                            Priced = f[2] == "true",
                            UnpricedReason = Text(f[3]),
                            UnpricedDetail = Text(f[4]),
                            RecordedQuantity = Number(f[5])!.Value,
                            RecordedUnit = Text(f[6]),
                            RecordCount = long.Parse(f[7], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
                            Model = Model(Text(f[8])),
                            ConvertedQuantity = Number(f[9])!.Value,
                            IncludedUnitsApplied = Number(f[10])!.Value,
                            BillableQuantity = Number(f[11])!.Value,
                            BillableUnit = Text(f[12]),
                            ExactAmount = Number(f[13])!.Value,
                            Amount = Number(f[14])!.Value,
                            Currency = Text(f[15]),
                            PriceBook = Text(f[16]),
                            PriceBookVersion = Text(f[17]),
                            PriceBookHash = Text(f[18]),
                        };
                        break;
                    case "tier" when f.Length == 8 && pending is not null:
                        tiers.Add(new TierCharge(int.Parse(f[1], CultureInfo.InvariantCulture), Number(f[2])!.Value, Number(f[3]), Number(f[4])!.Value, Number(f[5])!.Value,
                            Number(f[6])!.Value, Number(f[7])!.Value));
                        break;
                    case "fee" when f.Length == 10:
                        fees.Add(new FeeLine(Text(f[1])!, Instant(f[2])!.Value, Instant(f[3])!.Value, Number(f[4])!.Value, Number(f[5])!.Value, Text(f[6])!, Text(f[7])!,
                            Text(f[8])!, Text(f[9])!));
                        break;
                    case "commitment" when f.Length == 8:
                        commitments.Add(new CommitmentLine(Number(f[2])!.Value, Number(f[3])!.Value, Number(f[4])!.Value, Text(f[1])!, Text(f[5])!, Text(f[6])!, Text(f[7])!));
                        break;
                    case "adjustment" when f.Length == 8:
                        adjustments.Add(new AdjustmentLine(Text(f[1])!, Text(f[2])!, Text(f[3]), Number(f[4]), Number(f[5])!.Value, Text(f[6])!, Text(f[7])!));
                        break;
                    case "adjustment" when f.Length == 9:
                        adjustments.Add(new AdjustmentLine(Text(f[1])!, Text(f[2])!, Text(f[3]), Number(f[5]), Number(f[6])!.Value, Text(f[7])!, Text(f[8])!) { Group = Text(f[4])! });
                        break;
                    case "total" when f.Length == 7:
                        totals.Add(records[i]);
                        break;
                    default:
                        throw new FormatException($"a '{f[0]}' record with {f.Length - 1} fields is not part of the statement format");
                }
            }
            catch (Exception e) when (e is FormatException or OverflowException or NullReferenceException or InvalidOperationException)
            {
                throw new FormatException($"statement line {i + 1}: {e.Message}", e);
            }
        }

        FlushUsage();
        if (account is null || period is null || terms is null)
        {
            throw new FormatException("a canonical statement needs its account, period and terms records");
        }

        var statement = new Statement(account, period.Value, terms, usage, fees, commitments, adjustments);
        if (StatementHash.CanonicalText(statement) != canonicalText)
        {
            throw new FormatException($"the statement of '{account}' {period} does not read back to the same text: its totals or line order disagree with its lines");
        }

        return statement;
    }

    private static string[] Fields(string record) => record.Split('|');

    private static string? Text(string field)
    {
        if (field == "\\-")
        {
            return null;
        }

        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var sb = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] != '\\')
            {
                sb.Append(field[i]);
                continue;
            }

            if (++i == field.Length)
            {
                throw new FormatException($"'{field}' ends in a lone escape");
            }

            sb.Append(field[i] switch
            {
                '\\' => '\\',
                'p' => '|',
                'n' => '\n',
                'r' => '\r',
                _ => throw new FormatException($"'\\{field[i]}' is not an escape of the statement format"),
            });
        }

        return sb.ToString();
    }

    private static decimal? Number(string field) =>
        field == "\\-" ? null : decimal.Parse(field, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);

    private static DateTimeOffset? Instant(string field) =>
        field == "\\-" ? null : DateTimeOffset.ParseExact(field, "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private static PricingModel? Model(string? name) => name switch
    {
        null => null,
        "per_unit" => PricingModel.PerUnit,
        "graduated" => PricingModel.Graduated,
        "volume" => PricingModel.Volume,
        "package" => PricingModel.Package,
        "percentage" => PricingModel.Percentage,
        _ => throw new FormatException($"'{name}' is not a pricing model"),
    };
}
