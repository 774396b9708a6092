using BenchmarkDotNet.Attributes;
using Metering.Aggregates.Dedup;

namespace Metering.Benchmarks.Dedup;

/// <summary>
/// Dedup checks per record: the engine's <see cref="DedupHorizon"/> (fingerprint + payload digest + time bucket per
/// entry) against a plain <see cref="HashSet{T}"/> of the fingerprints alone, the baseline in the same run. Each
/// invocation starts from an empty table and checks 1M records (1 % re-sent ids, event time advancing 1 ms per
/// record), so table growth is included. Results are per record (OperationsPerInvoke).
/// </summary>
[MemoryDiagnoser]
public class DedupBenchmarks
{
    private const int Records = 1 << 20;
    private static readonly long Start = new DateTime(2026, 11, 24, 0, 0, 0, DateTimeKind.Utc).Ticks;
    private UInt128[] _fingerprints = [];
    private ulong[] _digests = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(11);
        _fingerprints = new UInt128[Records];
        _digests = new ulong[Records];
        for (var i = 0; i < Records; i++)
        {
            var again = i > 0 && random.Next(100) == 0;
            _fingerprints[i] = again ? _fingerprints[random.Next(i)] : new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64());
            _digests[i] = (ulong)random.NextInt64(1, long.MaxValue);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    public int HashSet_Add()
    {
        var set = new HashSet<UInt128>();
        var duplicates = 0;
        for (var i = 0; i < Records; i++)
        {
            duplicates += set.Add(_fingerprints[i]) ? 0 : 1;
        }

        return duplicates;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public int DedupHorizon_Check()
    {
        var dedup = new DedupHorizon(TimeSpan.FromHours(24));
        var seen = 0;
        for (var i = 0; i < Records; i++)
        {
            seen += dedup.Check(_fingerprints[i], _digests[i], Start + (i * TimeSpan.TicksPerMillisecond)) == DedupVerdict.New ? 0 : 1;
        }

        return seen;
    }
}
