using Metering.Rating.Statements;
using static Metering.UnitTests.Rating.Statements.StatementBooks;

namespace Metering.UnitTests.Rating.Statements;

/// <summary>A final statement is stored as its canonical text and read back by <see cref="StatementParser"/>: the same statement, the same hash.</summary>
public sealed class StatementParserTests
{
    [Fact]
    public void A_statement_reads_back_from_its_canonical_text_with_the_same_hash_and_lines()
    {
        // Tiers (graduated egress, volume cpu), an unpriced SKU, prorated fees, a commitment, and an adjustment whose
        // reason needs escaping (| \ and line breaks) and whose quantity is null.
        var credit = new AdjustmentLine(AdjustmentLine.Manual, "ticket|17", null, null, -5.00m, "USD", "goodwill \\ credit\nline two\r");
        var s = StatementBuilder.Build(Input(
            [new SkuUsage("egress", 1_234_567_890_123m, 7), new SkuUsage("cpu", 45_000_000m, 3), new SkuUsage("made.up", 1.5m, 1), new SkuUsage("requests", 10m, 10)],
            [credit], new StatementTerms(November.AddDays(10), December.AddDays(-2), "USD")));
        var text = StatementHash.CanonicalText(s);

        var back = StatementParser.Parse(text);

        Assert.Equal(s.ContentHash, back.ContentHash);
        Assert.Equal(text, StatementHash.CanonicalText(back));
        Assert.Equal(s.Usage.Select(u => u.Tiers.Count), back.Usage.Select(u => u.Tiers.Count));
        Assert.Equal([credit], back.Adjustments);
        Assert.Equal(s.Terms, back.Terms);
        Assert.Equal(s.Totals, back.Totals);
    }

    [Fact]
    public void A_text_whose_totals_disagree_with_its_lines_is_refused()
    {
        var text = StatementHash.CanonicalText(Build(new SkuUsage("requests", 5_000m, 5_000)));
        var tampered = text.Replace("total|USD|50|30|50|0|130", "total|USD|50|30|50|0|131", StringComparison.Ordinal);
        Assert.NotEqual(text, tampered);
        Assert.Contains("does not read back", Assert.Throws<FormatException>(() => StatementParser.Parse(tampered)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_record_of_an_unknown_kind_names_its_line()
    {
        var text = StatementHash.CanonicalText(Build(new SkuUsage("requests", 5_000m, 5_000))).Replace("fee|platform", "bonus|platform", StringComparison.Ordinal);
        Assert.StartsWith("statement line ", Assert.Throws<FormatException>(() => StatementParser.Parse(text)).Message, StringComparison.Ordinal);
    }
}
