using System.Text;
using Metering.Aggregates.Meters;

namespace Metering.UnitTests.Meters;

/// <summary>
/// The serialised states the ledger stores in one column: read back exactly, and anything else (a prefix, a flipped
/// byte, another kind or version) answered with a reason, never an exception or a wrong state.
/// </summary>
public class MeterStateBytesTests
{
    private static readonly long Nov1 = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    private delegate bool Reader(ReadOnlySpan<byte> bytes, out string? error);

    private static Dictionary<MeterStateKind, (byte[] Bytes, Reader Read)> Samples()
    {
        var extrema = ExtremaState.Empty;
        extrema.Add(5_000_000_000);
        extrema.Add(7);
        var latest = default(LatestState);
        latest.Add(Nov1 + 99, Encoding.UTF8.GetBytes("evt-é-1"), 42);
        var unique = new UniqueCountState(10);
        unique.Add(UniqueCountState.Fingerprint("u1"u8));
        unique.Add(UInt128.Zero);
        unique.Add(UInt128.MaxValue);
        unique.AddMissingField();
        var tw = new TimeWeightedState(100);
        tw.Add(Nov1 + TimeSpan.TicksPerHour, 10_000_000_000);
        tw.Add(Nov1, 3);
        var pct = new PercentileState(TimeSpan.TicksPerMinute * 5, 1000);
        pct.Add(Nov1, long.MaxValue);
        pct.Add(Nov1 + 1, long.MaxValue);
        pct.Add(Nov1 + (TimeSpan.TicksPerDay * 3), 1);
        return new()
        {
            [MeterStateKind.Extrema] = (extrema.ToBytes(), (ReadOnlySpan<byte> b, out string? e) => ExtremaState.TryRead(b, out var s, out e) && s == extrema),
            [MeterStateKind.Latest] = (latest.ToBytes(), (ReadOnlySpan<byte> b, out string? e) => LatestState.TryRead(b, out var s, out e)
                && s.TimeTicks == latest.TimeTicks && s.ValueNanos == latest.ValueNanos && s.EventId.SequenceEqual(latest.EventId)),
            [MeterStateKind.UniqueCount] = (unique.ToBytes(), (ReadOnlySpan<byte> b, out string? e) => UniqueCountState.TryRead(b, out var s, out e)
                && s.Values().SequenceEqual(unique.Values()) && s.MissingField == 1 && s.MaxDistinct == 10 && s.Contains(UInt128.Zero) && s.Contains(UInt128.MaxValue)),
            [MeterStateKind.TimeWeighted] = (tw.ToBytes(), (ReadOnlySpan<byte> b, out string? e) => TimeWeightedState.TryRead(b, out var s, out e)
                && s.Times.SequenceEqual(tw.Times) && s.Levels.SequenceEqual(tw.Levels) && s.MaxReadings == 100),
            [MeterStateKind.Percentile] = (pct.ToBytes(), (ReadOnlySpan<byte> b, out string? e) => PercentileState.TryRead(b, out var s, out e)
                && s.Indexes.SequenceEqual(pct.Indexes) && s.Sums.SequenceEqual(pct.Sums) && s.BucketTicks == pct.BucketTicks),
        };
    }

    [Fact]
    public void Every_state_reads_back_exactly_and_names_its_kind()
    {
        foreach (var (kind, (bytes, read)) in Samples())
        {
            Assert.True(read(bytes, out var error), $"{kind}: {error}");
            Assert.True(MeterStateFormat.TryPeekKind(bytes, out var peeked));
            Assert.Equal(kind, peeked);
        }
    }

    [Fact]
    public void Two_int64_max_quantities_in_one_bucket_keep_their_128_bit_sum()
    {
        var pct = new PercentileState(TimeSpan.TicksPerMinute * 5, 1000);
        pct.Add(Nov1, long.MaxValue);
        pct.Add(Nov1 + 1, long.MaxValue);
        Assert.True(PercentileState.TryRead(pct.ToBytes(), out var read, out _));
        Assert.Equal((Int128)long.MaxValue * 2, read.Sums[0]);
    }

    [Fact]
    public void Every_proper_prefix_of_a_state_is_refused_with_a_reason()
    {
        foreach (var (kind, (bytes, read)) in Samples())
        {
            for (var n = 0; n < bytes.Length; n++)
            {
                Assert.False(read(bytes.AsSpan(0, n), out var error), $"{kind}: the {n}-byte prefix was read");
                Assert.False(string.IsNullOrEmpty(error));
            }
        }
    }

    [Fact]
    public void A_trailing_byte_another_kind_or_another_version_is_refused()
    {
        foreach (var (kind, (bytes, read)) in Samples())
        {
            Assert.False(read([.. bytes, 0], out var trailing));
            Assert.Contains(kind == MeterStateKind.UniqueCount ? "byte(s) left (16 per value)" : "1 byte(s) after the state", trailing, StringComparison.Ordinal);
            var other = bytes.ToArray();
            other[0] = (byte)(kind == MeterStateKind.Extrema ? MeterStateKind.Latest : MeterStateKind.Extrema);
            Assert.False(read(other, out var wrongKind));
            Assert.StartsWith("kind byte", wrongKind, StringComparison.Ordinal);
            var future = bytes.ToArray();
            future[1] = 2;
            Assert.False(read(future, out var wrongVersion));
            Assert.StartsWith("format version 2", wrongVersion, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Flipped_bytes_never_throw()
    {
        var rng = new Random(17);
        foreach (var (_, (bytes, read)) in Samples())
        {
            for (var round = 0; round < 2000; round++)
            {
                var damaged = bytes.ToArray();
                damaged[2 + rng.Next(damaged.Length - 2)] ^= (byte)rng.Next(1, 256);
                read(damaged, out _); // either a state or a reason; an exception fails the test
            }
        }
    }

    [Fact]
    public void A_declared_count_beyond_the_bytes_left_is_refused_before_allocating()
    {
        // unique_count: max_distinct 1,000,000, not over, 0 missing, 1,000,000 values declared, none present.
        byte[] bytes = [3, 1, 0xC0, 0x84, 0x3D, 0, 0, 0xC0, 0x84, 0x3D];
        Assert.False(UniqueCountState.TryRead(bytes, out _, out var error));
        Assert.Equal("1000000 value(s) declared with max_distinct 1000000 and 0 byte(s) left (16 per value)", error);
    }

    [Fact]
    public void Updates_to_an_existing_value_or_bucket_allocate_nothing()
    {
        var unique = new UniqueCountState(1000);
        var pct = new PercentileState(TimeSpan.TicksPerMinute * 5, 1000);
        var tw = new TimeWeightedState(1000, initialCapacity: 2048);
        var extrema = ExtremaState.Empty;
        var latest = default(LatestState);
        var id = "evt-1"u8.ToArray();
        for (var i = 0; i < 64; i++)
        {
            unique.Add((UInt128)(i + 1));
            pct.Add(Nov1 + i, 1);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            unique.Add((UInt128)((i % 64) + 1));
            pct.Add(Nov1 + i, 1);
            tw.Add(Nov1 + i, i); // appends within the initial capacity
            extrema.Add(i);
            latest.Add(Nov1 + i, id, i);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(64, unique.Count);
        Assert.Equal(1000, tw.Count);
    }
}
