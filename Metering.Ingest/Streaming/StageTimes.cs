using System.Diagnostics;

namespace Metering.Ingest.Streaming;

/// <summary>
/// Where the engine's time goes since its start, per stage (the benchmarks and the main job print it). The poll thread
/// does consume-wait, dequeue, build, drain and commit-wait in turn, so those add up to its wall time; the commit runs
/// on a background task that overlaps them, and commit-wait is the part of it the poll thread spent blocked (the hard
/// cap, a revocation, a shutdown, or a flush due while the previous one still commits). Also when the first record was
/// consumed and the first flush committed (Stopwatch timestamps, so a caller measures from its own start).
/// Thread-safety: written by the poll thread and the commit task, readable from any thread at any time; each value
/// is exact when read, the set is not one consistent snapshot.
/// </summary>
public sealed class StageTimes
{
    private long _consumeWait;
    private long _dequeue;
    private long _build;
    private long _drain;
    private long _commitWait;
    private long _commit;
    private long _emptyPolls;
    private long _firstConsumed;
    private long _firstCommitted;
    private long _firstAssigned;
    private long _subscribed;
    private long _firstFlushStarted;

    /// <summary>When the engine started (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public long Started { get; } = Stopwatch.GetTimestamp();

    /// <summary>The poll thread waiting in the first Consume of a chunk: for the broker's fetches to bring data.</summary>
    public TimeSpan ConsumeWait => Ticks(ref _consumeWait);

    /// <summary>The poll thread taking the rest of a chunk's messages from librdkafka's queue (already fetched).</summary>
    public TimeSpan Dequeue => Ticks(ref _dequeue);

    /// <summary>
    /// The poll thread building: admission (decode), dedup and aggregation of the chunks (also the rare flushes a chunk
    /// forces itself, at the key limit or a full catalog, which are then counted in drain and commit-wait too).
    /// </summary>
    public TimeSpan Build => Ticks(ref _build);

    /// <summary>The poll thread draining the aggregates into a flush batch (the swap, the drain, the snapshots).</summary>
    public TimeSpan Drain => Ticks(ref _drain);

    /// <summary>The poll thread blocked on the flush in flight.</summary>
    public TimeSpan CommitWait => Ticks(ref _commitWait);

    /// <summary>Flush transactions, summed (background, overlapping the stages above).</summary>
    public TimeSpan Commit => Ticks(ref _commit);

    /// <summary>
    /// CPU time the poll thread used during the run (set when the run ends; null before, or off Linux). Its wall time
    /// minus this is time it was runnable without a core, or blocked: on a loaded machine that is most of "build".
    /// </summary>
    public TimeSpan? PollThreadCpu { get; internal set; }

    /// <summary>Polls that returned no message at all (each waited up to 100 ms).</summary>
    public long EmptyPolls => Interlocked.Read(ref _emptyPolls);

    /// <summary>When the first record was consumed (<see cref="Stopwatch.GetTimestamp"/>); null before that.</summary>
    public long? FirstConsumed => Interlocked.Read(ref _firstConsumed) is var t && t != 0 ? t : null;

    /// <summary>When the engine subscribed to the topic, after loading the dedup horizon (<see cref="Stopwatch.GetTimestamp"/>); null before that.</summary>
    public long? Subscribed => Interlocked.Read(ref _subscribed) is var t && t != 0 ? t : null;

    /// <summary>When the group first assigned partitions and their start offsets were set (<see cref="Stopwatch.GetTimestamp"/>); null before that.</summary>
    public long? FirstAssigned => Interlocked.Read(ref _firstAssigned) is var t && t != 0 ? t : null;

    /// <summary>When the first flush was handed to the commit task (<see cref="Stopwatch.GetTimestamp"/>); null before that.</summary>
    public long? FirstFlushStarted => Interlocked.Read(ref _firstFlushStarted) is var t && t != 0 ? t : null;

    /// <summary>When the first flush committed (<see cref="Stopwatch.GetTimestamp"/>); null before that.</summary>
    public long? FirstCommitted => Interlocked.Read(ref _firstCommitted) is var t && t != 0 ? t : null;

    /// <summary>One line: every stage's seconds and share of <paramref name="wall"/> (the poll thread's time, or a run's).</summary>
    public string Describe(TimeSpan wall)
    {
        var w = Math.Max(wall.TotalSeconds, 1e-9);
        string Part(string name, TimeSpan t) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{name} {t.TotalSeconds:F2}s ({t.TotalSeconds / w:P0})");
        return string.Join(", ", Part("consume-wait", ConsumeWait), Part("dequeue", Dequeue), Part("build", Build), Part("drain", Drain),
            Part("commit-wait", CommitWait), Part("commit (background)", Commit)) + string.Create(System.Globalization.CultureInfo.InvariantCulture, $"; {EmptyPolls:N0} empty polls{(PollThreadCpu is { } cpu ? $"; poll thread CPU {cpu.TotalSeconds:F2}s" : "")}");
    }

    internal void AddConsumeWait(long since, bool empty)
    {
        Add(ref _consumeWait, since);
        if (empty)
        {
            _emptyPolls++;
        }
        else if (_firstConsumed == 0)
        {
            Interlocked.Exchange(ref _firstConsumed, Stopwatch.GetTimestamp());
        }
    }

    internal void MarkSubscribed() => Interlocked.CompareExchange(ref _subscribed, Stopwatch.GetTimestamp(), 0);

    internal void MarkFlushStarted() => Interlocked.CompareExchange(ref _firstFlushStarted, Stopwatch.GetTimestamp(), 0);

    internal void MarkAssigned() => Interlocked.CompareExchange(ref _firstAssigned, Stopwatch.GetTimestamp(), 0);

    /// <summary>The start-up steps from <paramref name="from"/> (a <see cref="Stopwatch.GetTimestamp"/>): subscribed, assigned, first record, first commit.</summary>
    public string DescribeStart(long from)
    {
        string At(long? t) => t is { } v ? Stopwatch.GetElapsedTime(from, v).TotalSeconds.ToString("F2", System.Globalization.CultureInfo.InvariantCulture) + "s" : "never";
        return $"engine started {At(Started)}, subscribed {At(Subscribed)}, partitions assigned {At(FirstAssigned)}, first record {At(FirstConsumed)}, first flush started {At(FirstFlushStarted)}, first commit {At(FirstCommitted)}";
    }

    internal void AddDequeue(long since) => Add(ref _dequeue, since);

    internal void AddBuild(long since) => Add(ref _build, since);

    internal void AddDrain(long since) => Add(ref _drain, since);

    internal void AddCommitWait(long since) => Add(ref _commitWait, since);

    internal void AddCommit(long since)
    {
        Add(ref _commit, since);
        Interlocked.CompareExchange(ref _firstCommitted, Stopwatch.GetTimestamp(), 0);
    }

    private static void Add(ref long total, long since) => Interlocked.Add(ref total, Stopwatch.GetTimestamp() - since);

    private static TimeSpan Ticks(ref long ticks) => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref ticks));
}
