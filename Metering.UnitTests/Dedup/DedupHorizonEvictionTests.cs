using Metering.Aggregates.Dedup;

namespace Metering.UnitTests.Dedup;

public class DedupHorizonEvictionTests
{
    private static readonly long Start = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    // One payload for every record here: these tests are about ids and time, not payloads.
    private const ulong Digest = 42;

    [Fact]
    public void A_full_horizon_evicts_only_its_oldest_minutes_and_never_reports_a_remembered_id_as_new()
    {
        var dedup = new DedupHorizon(TimeSpan.FromHours(24), maxEntries: 10_000);
        // 40,000 distinct ids, one per 100 ms of event time (about 67 minutes): four times what fits.
        for (var i = 0; i < 40_000; i++)
        {
            Assert.Equal(DedupVerdict.New, dedup.Check(new UInt128(1, (ulong)i + 1), Digest, Start + (i * TimeSpan.TicksPerMillisecond * 100)));
        }

        Assert.True(dedup.EarlyEvictions > 0);
        Assert.True(dedup.Count <= 10_000);
        // The newest ids are still remembered...
        Assert.Equal(DedupVerdict.Duplicate, dedup.Check(new UInt128(1, 40_000), Digest, Start + (39_999 * TimeSpan.TicksPerMillisecond * 100)));
        // ...and the oldest, evicted ones are refused as expired, never let through as new.
        Assert.Equal(DedupVerdict.Expired, dedup.Check(new UInt128(1, 1), Digest, Start));
    }

    [Fact]
    public void An_id_reused_after_the_horizon_is_new_again()
    {
        var dedup = new DedupHorizon(TimeSpan.FromHours(1));
        var id = new UInt128(7, 7);
        Assert.Equal(DedupVerdict.New, dedup.Check(id, Digest, Start));
        Assert.Equal(DedupVerdict.New, dedup.Check(new UInt128(8, 8), Digest, Start + TimeSpan.FromMinutes(90).Ticks));
        Assert.Equal(DedupVerdict.New, dedup.Check(id, Digest, Start + TimeSpan.FromMinutes(89).Ticks));
        Assert.Equal(DedupVerdict.Duplicate, dedup.Check(id, Digest, Start + TimeSpan.FromMinutes(89).Ticks));
    }
}
