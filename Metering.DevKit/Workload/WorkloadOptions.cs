namespace Metering.DevKit.Workload;

/// <summary>Shape of a synthetic edge workload. Same options and seed = byte-identical output.</summary>
public sealed record WorkloadOptions
{
    /// <summary>Random seed.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Lines to write (good + duplicate + bad).</summary>
    public long Records { get; init; } = 1_000_000;

    /// <summary>Distinct accounts; traffic follows a Zipf-like law over them (account 1 busiest).</summary>
    public int Accounts { get; init; } = 10_000;

    /// <summary>Zipf exponent of the account skew (0 = uniform; 1.0 = classic Zipf).</summary>
    public double Skew { get; init; } = 1.0;

    /// <summary>
    /// Size skew: a record of the account of rank k (1 = busiest) carries max(1, scale / k) times the quantity a small
    /// account's record does, for the count and size SKUs (bytes, requests, CPU, storage, queries, transforms), so a few
    /// heavy accounts pass their included units and reach higher tiers. 1 (the default) = every account alike; at most
    /// 900, so the largest record (10^7 bytes x scale) stays within a record's quantity range.
    /// </summary>
    public int HeavyAccountScale { get; init; } = 1;

    /// <summary>Records per second of event time (sets the time span, hence the number of windows).</summary>
    public long Rate { get; init; } = 10_000;

    /// <summary>Share of lines that repeat an earlier record exactly (a producer retry).</summary>
    public double DuplicateShare { get; init; } = 0.01;

    /// <summary>Share of lines that are bad records of known kinds.</summary>
    public double BadShare { get; init; } = 0.001;

    /// <summary>Event time of the first record.</summary>
    public DateTimeOffset Start { get; init; } = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Adds seven SKUs whose prices meter them other than by a sum (docs/meters.md) to the eight: <c>gpu.peak</c> (max;
    /// 1-64 GPUs), <c>db.floor</c> (min; 1-16 instances), <c>workers.invocations</c> (count; 1 per record),
    /// <c>r2.storage.mb</c> (time_weighted; a level of 1-500,000 MB), <c>transit.bytes</c> (percentile; 1 kB-100 MB),
    /// <c>seats.current</c> (latest; 1-50 seats) and <c>regions.active</c> (unique_count of the region dimension). Off by
    /// default, so every workload from before meters writes the same bytes; the main job (<c>metering run</c>) turns it on.
    /// </summary>
    public bool MeteredSkus { get; init; }
}
