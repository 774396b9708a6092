using Metering.Cli.Commands;
using Metering.Cli.Output;
using Metering.DevKit.Workload;
using Metering.Rating.Statements;
using static Metering.UnitTests.Rating.Statements.StatementBooks;

namespace Metering.UnitTests.Cli;

/// <summary>
/// The main job's statement text (rows checked against amounts computed by hand from <c>StatementBooks</c>' prices), the
/// account the main job shows, and the workload's size skew that gives that account its overages.
/// </summary>
public sealed class StatementTextTests
{
    private static readonly DateTimeOffset November11 = new(2026, 11, 11, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Subscribed from 11 November (20 of 30 days): 1,234 requests x 0.01 = 12.34; 100.25 GB of egress, 100 included, 0.25 x 0.08
    /// = 0.02; 42 video.minutes the book does not price; a manual credit of -2.00. Fees: platform 20.00 x 20/30 = 13.33, support
    /// 10.00 in full. Commitment 100.00 against the usage 12.34 + 0.02 = 12.36 (an adjustment never counts against it): true-up
    /// 87.64. Total 12.36 + 23.33 + 87.64 - 2.00 = 121.33.
    /// </summary>
    private static Statement Sample() => StatementBuilder.Build(Input(
        [new SkuUsage("requests", 1_234m, 1_234), new SkuUsage("egress", 100_250_000_000m, 7), new SkuUsage("video.minutes", 42m, 3)],
        [new AdjustmentLine(AdjustmentLine.Manual, "ticket-7", null, null, -2.00m, "USD", "goodwill credit")],
        new StatementTerms(November11)));

    [Fact]
    public void A_statement_renders_usage_prorated_fees_the_true_up_an_unpriced_line_and_a_credit_in_aligned_rows()
    {
        var statement = Sample();
        var detail = statement.Usage.Single(u => u.Sku == "video.minutes").UnpricedDetail;
        Assert.Equal(
            $"""
            statement  acct-1
            period     2026-11-01T00:00:00Z .. 2026-12-01T00:00:00Z
            status     final
            id         st-1
            hash       {statement.ContentHash[..19]}

            usage                   recorded                   billable              amount
              egress         100,250,000,000  1/1000000000 GB      0.25  GB        0.02 USD  included 100 GB
              requests                 1,234  request             1,234  request  12.34 USD
              video.minutes               42                          -            unpriced  sku_not_in_book: {detail}

            fees        service                                                               factor     amount
              platform  2026-11-11T00:00:00Z .. 2026-12-01T00:00:00Z  0.6666666666666666666666666667  13.33 USD
              support   2026-11-11T00:00:00Z .. 2026-12-01T00:00:00Z                               1  10.00 USD

            commitment   committed  usage charged    true-up
              list      100.00 USD      12.36 USD  87.64 USD

            adjustments  reference  sku  quantity     amount  reason
              manual     ticket-7   -           -  -2.00 USD  goodwill credit

            totals  usage   fees  true-up  adjustments   total
              USD   12.36  23.33    87.64        -2.00  121.33

            """.ReplaceLineEndings("\n"),
            StatementText.Render(statement, "final", "st-1"));
    }

    [Fact]
    public void A_draft_without_an_id_says_so_and_leaves_out_the_sections_it_has_no_lines_for()
    {
        // No subscription during the period: no fee and no commitment lines; no adjustments either.
        var statement = StatementBuilder.Build(Input([new SkuUsage("requests", 5m, 5)], terms: new StatementTerms(December)));
        var rows = StatementText.Render(statement, "draft").Split('\n');
        Assert.Equal(["status     draft", "id         -"], rows[2..4]);
        Assert.Equal(["usage       recorded           billable             amount", "  requests         5  request         5  request  0.05 USD"], rows[6..8]);
        Assert.DoesNotContain(rows, r => r.StartsWith("fees", StringComparison.Ordinal) || r.StartsWith("commitment", StringComparison.Ordinal) || r.StartsWith("adjustments", StringComparison.Ordinal));
        Assert.Equal(["totals  usage  fees  true-up  adjustments  total", "  USD    0.05  0.00     0.00         0.00   0.05", ""], rows[^3..]);
    }

    [Theory]
    [InlineData("12.5", "USD", "12.50 USD")]
    [InlineData("1250", "JPY", "1,250 JPY")]
    [InlineData("1.5", "KWD", "1.500 KWD")]
    [InlineData("-1234567.8", "USD", "-1,234,567.80 USD")]
    [InlineData("0.005", "USD", "0.005 USD")] // finer than the minor units: every digit kept, never rounded here
    [InlineData("7.10", "XYZ", "7.1 XYZ")] // an unknown code: the exact value as it is
    public void Money_has_exactly_the_currency_minor_digits_and_is_never_rounded(string value, string currency, string expected) =>
        Assert.Equal(expected, StatementText.Money(decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture), currency));

    [Theory]
    [InlineData("12.500", "12.5")]
    [InlineData("1234567.000000001", "1,234,567.000000001")]
    [InlineData("0.6666666666666666666666666667", "0.6666666666666666666666666667")]
    [InlineData("100", "100")]
    [InlineData("-1000", "-1,000")]
    public void Quantities_keep_every_significant_digit_and_group_the_integer_part(string value, string expected) =>
        Assert.Equal(expected, StatementText.Quantity(decimal.Parse(value, System.Globalization.CultureInfo.InvariantCulture)));

    [Fact]
    public void Instants_are_utc_with_a_fraction_only_when_there_is_one()
    {
        Assert.Equal("2026-11-01T00:00:00Z", StatementText.Instant(new DateTimeOffset(2026, 11, 1, 1, 0, 0, TimeSpan.FromHours(1))));
        Assert.Equal("2026-11-11T06:00:00.5Z", StatementText.Instant(new DateTimeOffset(2026, 11, 11, 6, 0, 0, 500, TimeSpan.Zero)));
    }

    [Fact]
    public void The_main_job_shows_the_account_with_the_most_records_and_breaks_ties_by_name()
    {
        var truth = new GroundTruth();
        truth.Totals.Add(new GroundTruthTotal { Account = "acct-2", Sku = "a", Count = 5, Quantity = "1" });
        truth.Totals.Add(new GroundTruthTotal { Account = "acct-3", Sku = "a", Count = 4, Quantity = "1" });
        truth.Totals.Add(new GroundTruthTotal { Account = "acct-3", Sku = "b", Count = 3, Quantity = "1" });
        truth.Totals.Add(new GroundTruthTotal { Account = "acct-10", Sku = "a", Count = 7, Quantity = "1" });
        Assert.Equal("acct-10", RunCommand.StatementAccount(truth)); // 7 records each for acct-3 and acct-10: ordinal name order
        Assert.Null(RunCommand.StatementAccount(new GroundTruth()));
    }

    [Fact]
    public void The_size_skew_multiplies_only_count_and_size_skus_and_keeps_every_record()
    {
        // Same seed: the same records, accounts and SKUs; account of rank k carries max(1, 100 / k) times the quantity of
        // the six count and size SKUs; stream minutes and tokens are unchanged.
        var plain = Generate(new WorkloadOptions { Records = 20_000, Accounts = 300 });
        var skewed = Generate(new WorkloadOptions { Records = 20_000, Accounts = 300, HeavyAccountScale = 100 });
        Assert.Equal(plain.Lines, skewed.Lines);
        Assert.Equal(plain.Truth.Totals.Select(t => (t.Account, t.Sku, t.Count)), skewed.Truth.Totals.Select(t => (t.Account, t.Sku, t.Count)));
        foreach (var (p, s) in plain.Truth.Totals.Zip(skewed.Truth.Totals))
        {
            var rank = int.Parse(p.Account["acct-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            var factor = p.Sku is "stream.minutes" or "ai.tokens" ? 1 : Math.Max(1, 100 / rank);
            Assert.Equal(decimal.Parse(p.Quantity, System.Globalization.CultureInfo.InvariantCulture) * factor, decimal.Parse(s.Quantity, System.Globalization.CultureInfo.InvariantCulture));
        }

        Assert.Contains(skewed.Truth.Totals, t => t.Account == "acct-1" && t.Sku == "cdn.requests" && decimal.Parse(t.Quantity, System.Globalization.CultureInfo.InvariantCulture) == 100m * t.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SyntheticWorkloadGenerator(new WorkloadOptions { HeavyAccountScale = 901 }));
    }

    private static (int Lines, GroundTruth Truth) Generate(WorkloadOptions options)
    {
        using var stream = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(options).Generate(stream);
        return (stream.ToArray().Count(b => b == (byte)'\n'), truth);
    }
}
