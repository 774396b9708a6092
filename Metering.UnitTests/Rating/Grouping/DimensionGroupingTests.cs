using Metering.Rating.Periods;
using Metering.Rating.PeriodTotals;
using Metering.Rating.PriceBooks;
using Metering.Rating.Statements;

namespace Metering.UnitTests.Rating.Grouping;

/// <summary>
/// Usage lines per dimension group (a price's <c>group_by</c>, Lago's grouped charges): each group is a total and a line
/// of its own, with its own tiers and included units; ungrouped prices and statements are as before.
/// </summary>
public sealed class DimensionGroupingTests
{
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly BillingPeriod Nov = new(November, November.AddMonths(1));

    /// <summary>Egress graduated per region: the first 100 GB of each region at 0.10, the rest at 0.05, 10 GB free per region.</summary>
    private static readonly PriceBook List = PriceBookLoader.Load("""
        {
          "id": "list", "currency": "USD", "rounding": "half_up",
          "versions": [ { "version": "v1", "effective_from": "2026-11-01T00:00:00Z",
            "prices": {
              "egress.gb": { "model": "graduated", "unit": "GB", "group_by": ["region"], "included_units": "10",
                "tiers": [ { "up_to": "100", "unit_price": "0.10" }, { "up_to": null, "unit_price": "0.05" } ] },
              "requests": { "model": "per_unit", "unit": "request", "unit_price": "0.001" } } } ]
        }
        """u8, "list");

    private static readonly PriceCatalog Prices = new(List, []);

    private static UsageWindow Window(string sku, decimal quantity, params (string Key, string Value)[] dimensions) =>
        new("acct-1", sku, November.AddHours(1), November.AddHours(1).AddMinutes(1), quantity, 1,
            dimensions.Length == 0 ? null : [.. dimensions.Select(d => new KeyValuePair<string, string>(d.Key, d.Value))]);

    [Fact]
    public void A_group_is_canonical_json_of_the_grouped_keys_in_key_order_and_a_missing_key_is_empty()
    {
        IReadOnlyList<KeyValuePair<string, string>> dims = [new("region", "eu"), new("colo", "fra"), new("tier", "x")];
        Assert.Equal("""{"colo":"fra","region":"eu"}""", DimensionGroup.Of(["colo", "region"], dims));
        Assert.Equal("""{"pop":"","region":"eu"}""", DimensionGroup.Of(["pop", "region"], dims));
        Assert.Equal(DimensionGroup.None, DimensionGroup.Of([], dims));
        Assert.Equal([new("colo", "fra"), new("region", "eu")], DimensionGroup.Pairs("""{"colo":"fra","region":"eu"}"""));
        Assert.Empty(DimensionGroup.Pairs(""));
        Assert.Equal("""{"a":"\"q\"","b":"é"}""", DimensionGroup.Of(["a", "b"], [new("b", "é"), new("a", "\"q\"")]));
    }

    [Fact]
    public void A_price_reads_group_by_sorted_and_the_catalog_lists_the_keys_to_keep_per_sku()
    {
        var book = PriceBookLoader.Load("""
            { "id": "b", "currency": "USD", "versions": [ { "version": "v1", "effective_from": "2026-11-01T00:00:00Z",
              "prices": { "s": { "model": "per_unit", "unit": "u", "unit_price": "1", "group_by": ["region", "colo"] } } } ] }
            """u8, "b");
        Assert.Equal(["colo", "region"], book.Versions[0].Prices["s"].GroupBy);
        Assert.Equal(["region"], DimensionGroup.KeysBySku(Prices)["egress.gb"]);
        Assert.False(DimensionGroup.KeysBySku(Prices).ContainsKey("requests"));
    }

    [Theory]
    [InlineData("[]", "$.versions[0].prices[\"s\"].group_by", "1 to 8")]
    [InlineData("\"region\"", "$.versions[0].prices[\"s\"].group_by", "1 to 8")]
    [InlineData("[\"region\", \"region\"]", "$.versions[0].prices[\"s\"].group_by[1]", "named twice")]
    [InlineData("[\"re gion\"]", "$.versions[0].prices[\"s\"].group_by[0]", "A-Z a-z 0-9")]
    [InlineData("[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]", "$.versions[0].prices[\"s\"].group_by", "1 to 8")]
    public void A_bad_group_by_is_refused_with_its_json_path(string groupBy, string path, string message)
    {
        var json = """{ "id": "b", "currency": "USD", "versions": [ { "version": "v1", "effective_from": "2026-11-01T00:00:00Z", "prices": { "s": { "model": "per_unit", "unit": "u", "unit_price": "1", "group_by": GB } } } ] }""".Replace("GB", groupBy, StringComparison.Ordinal);
        var e = Assert.Throws<PriceBookException>(() => PriceBookLoader.Load(System.Text.Encoding.UTF8.GetBytes(json), "b"));
        Assert.Contains(e.Errors, x => x.Path == path && x.Message.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void The_rater_keeps_a_total_per_group_each_with_its_own_tiers_and_included_units()
    {
        var rater = new PeriodTotalsRater(Prices);
        // eu 150 GB: 10 free, then 100 at 0.10 and 40 at 0.05 = 12.00; us 50 GB: 10 free, 40 at 0.10 = 4.00 (one total of 200 GB would be 10 + 90 x 0.05 = 14.50).
        var windows = new[] { Window("egress.gb", 100, ("region", "eu")), Window("egress.gb", 50, ("region", "us"), ("colo", "iad")), Window("egress.gb", 50, ("region", "eu")), Window("requests", 1000, ("region", "eu")) };
        var result = rater.Rate(rater.Plan(windows, new HashSet<DateTimeOffset>()), new Dictionary<PeriodTotalKey, StoredPeriodTotal>(), new Dictionary<PeriodTotalKey, BookedAdjustments>());
        var totals = result.Totals.ToDictionary(t => (t.Key.Sku, t.Key.Group));
        Assert.Equal(3, totals.Count);
        Assert.Equal((150m, 12.00m), (totals[("egress.gb", """{"region":"eu"}""")].QuantityAfter, totals[("egress.gb", """{"region":"eu"}""")].AmountAfter));
        Assert.Equal((50m, 4.00m), (totals[("egress.gb", """{"region":"us"}""")].QuantityAfter, totals[("egress.gb", """{"region":"us"}""")].AmountAfter));
        Assert.Equal(1.000m, totals[("requests", "")].AmountAfter); // not grouped: its dimension does not split it
        Assert.Equal(result.Totals.Sum(t => t.AmountAfter), result.Windows.Sum(c => c.Amount));
    }

    [Fact]
    public void A_grouped_total_goes_on_from_its_stored_state_and_not_from_another_groups()
    {
        var rater = new PeriodTotalsRater(Prices);
        var eu = new PeriodTotalKey("acct-1", "egress.gb", November, """{"region":"eu"}""");
        var v1 = List.Versions[0];
        var stored = new Dictionary<PeriodTotalKey, StoredPeriodTotal> { [eu] = new(100, 1, 9.00m, "USD", "list", "v1", v1.Hash) };
        var result = rater.Rate(rater.Plan([Window("egress.gb", 50, ("region", "eu")), Window("egress.gb", 50, ("region", "us"))], new HashSet<DateTimeOffset>()),
            stored, new Dictionary<PeriodTotalKey, BookedAdjustments>());
        var euAfter = result.Totals.Single(t => t.Key == eu);
        Assert.Equal((150m, 12.00m), (euAfter.QuantityAfter, euAfter.AmountAfter)); // 9.00 + 10 GB at 0.10 + 40 at 0.05 = 12.00
        Assert.Equal(4.00m, result.Totals.Single(t => t.Key.Group == """{"region":"us"}""").AmountAfter);
    }

    [Fact]
    public void A_statement_has_a_line_per_group_that_reads_back_to_the_same_hash_and_ungrouped_lines_keep_their_text()
    {
        var terms = new StatementTerms(November);
        var usage = new List<SkuUsage>
        {
            new("egress.gb", 150, 2, Group: """{"region":"eu"}"""),
            new("egress.gb", 50, 1, Group: """{"region":"us"}"""),
            new("requests", 1000, 1),
        };
        var statement = StatementBuilder.Build(new StatementInput("acct-1", Nov, terms, usage, [], Prices));
        Assert.Equal([("egress.gb", """{"region":"eu"}""", 12.00m), ("egress.gb", """{"region":"us"}""", 4.00m), ("requests", "", 1.00m)],
            statement.Usage.Select(u => (u.Sku, u.Group, u.Amount)).OrderBy(x => x.Item2, StringComparer.Ordinal).OrderBy(x => x.Sku, StringComparer.Ordinal).ToList());
        var text = StatementHash.CanonicalText(statement);
        Assert.Contains("usage|egress.gb|{\"region\":\"eu\"}|true|", text, StringComparison.Ordinal);
        Assert.Contains("usage|requests|true|", text, StringComparison.Ordinal);
        var read = StatementParser.Parse(text);
        Assert.Equal(statement.ContentHash, read.ContentHash);
        Assert.Equal(["""{"region":"eu"}""", """{"region":"us"}""", ""], read.Usage.Select(u => u.Group).OrderBy(g => g.Length == 0 ? 1 : 0).ThenBy(g => g, StringComparer.Ordinal));
        var twice = Assert.Throws<ArgumentException>(() => StatementBuilder.Build(new StatementInput("acct-1", Nov, terms, [.. usage, new("egress.gb", 1, 1, Group: """{"region":"eu"}""")], [], Prices)));
        Assert.Contains("group", twice.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Late_usage_of_one_group_adjusts_only_that_groups_line_and_names_it()
    {
        var terms = new StatementTerms(November);
        var final = StatementBuilder.Build(new StatementInput("acct-1", Nov, terms,
            [new("egress.gb", 150, 2, Group: """{"region":"eu"}"""), new("egress.gb", 50, 1, Group: """{"region":"us"}""")], [], Prices));
        var rebuilt = StatementRevision.Rebuild(final, [new SkuUsage("egress.gb", 20, 1, Group: """{"region":"us"}""")], Prices);
        var lines = StatementDifference.Between(final, rebuilt, AdjustmentLine.LateUsage);
        var line = Assert.Single(lines);
        Assert.Equal(("""{"region":"us"}""", 20m, 2.00m), (line.Group, line.Quantity!.Value, line.Amount)); // us: 40 -> 60 billable GB at 0.10
        Assert.Contains("egress.gb {\"region\":\"us\"}", line.Reason, StringComparison.Ordinal);
        var negative = Assert.Throws<ArgumentException>(() => StatementRevision.Rebuild(final, [new SkuUsage("egress.gb", -60, -1, Group: """{"region":"us"}""")], Prices));
        Assert.Contains("group", negative.Message, StringComparison.Ordinal);
    }
}
