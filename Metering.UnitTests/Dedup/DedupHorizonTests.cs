using Metering.Aggregates.Dedup;

namespace Metering.UnitTests.Dedup;

public class DedupHorizonTests
{
    private static readonly long Start = new DateTime(2026, 11, 24, 0, 0, 0, DateTimeKind.Utc).Ticks;

    // One payload for every record here: these tests are about ids and time, not payloads.
    private const ulong Digest = 42;

    [Fact]
    public void A_repeat_within_the_horizon_is_a_duplicate()
    {
        var dedup = new DedupHorizon(TimeSpan.FromHours(24));
        Assert.Equal(DedupVerdict.New, dedup.Check(new UInt128(1, 2), Digest, Start));
        Assert.Equal(DedupVerdict.New, dedup.Check(new UInt128(1, 3), Digest, Start + TimeSpan.FromHours(23).Ticks));
        Assert.Equal(DedupVerdict.Duplicate, dedup.Check(new UInt128(1, 2), Digest, Start));
        Assert.Equal(DedupVerdict.Duplicate, dedup.Check(new UInt128(1, 2), Digest, Start + TimeSpan.FromHours(20).Ticks));
    }

    [Fact]
    public void A_record_older_than_the_horizon_behind_the_newest_is_expired()
    {
        var dedup = new DedupHorizon(TimeSpan.FromHours(24));
        Assert.Equal(DedupVerdict.New, dedup.Check(new UInt128(0, 1), Digest, Start + TimeSpan.FromHours(30).Ticks));
        Assert.Equal(DedupVerdict.Expired, dedup.Check(new UInt128(0, 2), Digest, Start + TimeSpan.FromHours(5).Ticks));
        Assert.Equal(DedupVerdict.New, dedup.Check(new UInt128(0, 3), Digest, Start + TimeSpan.FromHours(7).Ticks));
    }

    [Fact]
    public void Sweeping_as_the_watermark_advances_keeps_the_table_bounded()
    {
        var dedup = new DedupHorizon(TimeSpan.FromHours(1));
        for (var i = 0; i < 100_000; i++)
        {
            // One id per second for about 28 hours: only the last hour (plus one sweep step) stays remembered.
            Assert.Equal(DedupVerdict.New, dedup.Check(new UInt128(9, (ulong)i + 1), Digest, Start + (i * TimeSpan.TicksPerSecond)));
        }

        Assert.InRange(dedup.Count, 3_600, 3_600 + 400);
        Assert.Equal(0, dedup.EarlyEvictions);
    }
}
