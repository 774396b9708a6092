using Metering.Web.HttpIngest;

namespace Metering.UnitTests.Ingest;

/// <summary>The edge's per-account SKU budget: known SKUs are free, a pair counts once a day, the state is bounded.</summary>
public sealed class EdgeCardinalityLimitsTests
{
    [Fact]
    public void Skus_the_price_books_know_are_exempt_and_the_state_is_bounded()
    {
        var limits = new EdgeCardinalityLimits(2, 0, new HashSet<string> { "known" }, TimeProvider.System, maxTrackedPairs: 4);
        Assert.Null(limits.Admit("k", "a", "x"));
        Assert.Null(limits.Admit("k", "a", "y"));
        Assert.NotNull(limits.Admit("k", "a", "z"));
        Assert.Null(limits.Admit("k", "a", "known"));
        Assert.Null(limits.Admit("k", "a", "x")); // already used today
        Assert.Null(limits.Admit("k", "b", "x"));
        Assert.Null(limits.Admit("k", "b", "y")); // 4 pairs tracked: the next new pair starts afresh
        Assert.Null(limits.Admit("k", "c", "x"));
        Assert.Equal(1, limits.Resets);
    }
}
