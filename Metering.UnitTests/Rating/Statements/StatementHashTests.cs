using System.Security.Cryptography;
using System.Text;
using Metering.Rating.Statements;
using static Metering.UnitTests.Rating.Statements.StatementBooks;

namespace Metering.UnitTests.Rating.Statements;

/// <summary>The content hash: over a documented canonical text, sensitive to every amount, blind to the order lines come in.</summary>
public sealed class StatementHashTests
{
    private static readonly AdjustmentLine Credit = new(AdjustmentLine.Manual, "ticket-17", null, null, -5.00m, "USD", "goodwill credit");
    private static readonly AdjustmentLine Late = new(AdjustmentLine.LateUsage, "2026-10-01T00:00:00Z/2026-11-01T00:00:00Z", "requests", 300m, 3.00m, "USD", "late October usage");

    private static Statement Sample(bool reversed = false)
    {
        SkuUsage[] usage = [new("requests", 5_000m, 5_000), new("egress", 6_250_550_000_000m, 10), new("made.up", 1m, 1)];
        AdjustmentLine[] adjustments = [Credit, Late];
        return StatementBuilder.Build(Input(reversed ? [.. usage.Reverse()] : usage, reversed ? [.. adjustments.Reverse()] : adjustments));
    }

    private static Statement Rebuild(Statement s, IEnumerable<UsageLine>? usage = null, IEnumerable<FeeLine>? fees = null, IEnumerable<CommitmentLine>? commitments = null,
        IEnumerable<AdjustmentLine>? adjustments = null) =>
        new(s.Account, s.Period, s.Terms, usage ?? s.Usage, fees ?? s.Fees, commitments ?? s.Commitments, adjustments ?? s.Adjustments);

    [Fact]
    public void The_content_hash_does_not_depend_on_the_order_of_the_input_lines()
    {
        var forward = Sample();
        var reversed = Sample(reversed: true);
        Assert.Equal(StatementHash.CanonicalText(forward), StatementHash.CanonicalText(reversed));
        Assert.Equal(forward.ContentHash, reversed.ContentHash);
        Assert.Equal(["egress", "made.up", "requests"], reversed.Usage.Select(u => u.Sku));
    }

    [Fact]
    public void The_content_hash_changes_with_any_amount()
    {
        var s = Sample();
        Assert.Equal(s.ContentHash, Rebuild(s).ContentHash); // the same lines hash the same
        var first = s.Usage[0];
        var variants = new[]
        {
            Rebuild(s, usage: s.Usage.Select(u => u == first ? u with { Amount = u.Amount + 0.01m } : u)),
            Rebuild(s, usage: s.Usage.Select(u => u == first ? u with { ExactAmount = u.ExactAmount + 0.0001m } : u)),
            Rebuild(s, usage: s.Usage.Select(u => u == first ? u with { Tiers = [.. u.Tiers.Select((t, i) => i == 2 ? t with { Amount = t.Amount + 0.001m } : t)] } : u)),
            Rebuild(s, usage: s.Usage.Select(u => u == first ? u with { RecordedQuantity = u.RecordedQuantity + 1 } : u)),
            Rebuild(s, fees: s.Fees.Select((f, i) => i == 1 ? f with { Amount = f.Amount + 0.01m } : f)),
            Rebuild(s, commitments: s.Commitments.Select(c => c with { TrueUp = c.TrueUp - 0.01m })),
            Rebuild(s, adjustments: s.Adjustments.Select(a => a == Credit ? a with { Amount = -5.01m } : a)),
        };
        Assert.Equal(variants.Length, variants.Select(v => v.ContentHash).Append(s.ContentHash).Distinct().Count() - 1);
        Assert.NotEqual(s.ContentHash, Build(new SkuUsage("requests", 5_001m, 5_001)).ContentHash);
    }

    [Fact]
    public void The_content_hash_is_the_sha256_of_the_documented_canonical_text()
    {
        // requests 9,915 x 0.01 = 99.15; fees 20.00 + 10.00; true-up 100.00 - 99.15 = 0.85; total 130.00.
        var s = Build(new SkuUsage("requests", 9_915m, 9_915));
        var hash = List.VersionAt(November)!.Hash;
        var expected =
            "metering-statement|1\n" +
            "account|acct-1\n" +
            "period|2026-11-01T00:00:00.0000000Z|2026-12-01T00:00:00.0000000Z\n" +
            "terms|2026-11-01T00:00:00.0000000Z|\\-|\\-\n" +
            $"usage|requests|true|\\-|\\-|9915|request|9915|per_unit|9915|0|9915|request|99.15|99.15|USD|list|nov|{hash}\n" +
            $"fee|platform|2026-11-01T00:00:00.0000000Z|2026-12-01T00:00:00.0000000Z|1|20|USD|list|nov|{hash}\n" +
            $"fee|support|2026-11-01T00:00:00.0000000Z|2026-12-01T00:00:00.0000000Z|1|10|USD|list|nov|{hash}\n" +
            $"commitment|USD|100|99.15|0.85|list|nov|{hash}\n" +
            "total|USD|99.15|30|0.85|0|130\n";
        Assert.Equal(expected, StatementHash.CanonicalText(s));
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(expected))), s.ContentHash);
    }

    [Fact]
    public void Separators_and_escapes_in_text_cannot_make_two_statements_serialise_alike()
    {
        // "a|b" with reason "c" against "a" with reason "b|c": the same characters, different fields.
        var one = StatementBuilder.Build(Input([], [new AdjustmentLine(AdjustmentLine.Manual, "a|b", null, null, 1m, "USD", "c")]));
        var two = StatementBuilder.Build(Input([], [new AdjustmentLine(AdjustmentLine.Manual, "a", null, null, 1m, "USD", "b|c")]));
        var three = StatementBuilder.Build(Input([], [new AdjustmentLine(AdjustmentLine.Manual, "a", null, null, 1m, "USD", "\\-")]));
        var four = StatementBuilder.Build(Input([], [new AdjustmentLine(AdjustmentLine.Manual, "a", null, null, 1m, "USD", "\\p")]));
        Assert.Equal(4, new[] { one, two, three, four }.Select(s => s.ContentHash).Distinct().Count());
        Assert.Contains("adjustment|manual|a\\pb|\\-|\\-|1|USD|c\n", StatementHash.CanonicalText(one), StringComparison.Ordinal);
    }

    [Fact]
    public void Decimals_serialise_by_value_not_by_scale()
    {
        Assert.Equal(["0", "0", "1.5", "1.5", "-0.85", "100", "0.0000004"],
            new[] { 0m, -0.00m, 1.5m, 1.50000m, -0.850m, 100.00m, 0.0000004m }.Select(StatementHash.Number));
    }
}
