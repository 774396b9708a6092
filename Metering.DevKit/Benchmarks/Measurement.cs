namespace Metering.DevKit.Benchmarks;

/// <summary>
/// The statistics every benchmark here reports with, so they all mean the same thing: the median of alternating
/// rounds, nearest-rank percentiles, and a clean heap before each measured run.
/// </summary>
public static class Measurement
{
    /// <summary>
    /// Starts a measured run on a clean heap: the previous run's hundreds of MiB of tables are garbage, and collecting
    /// them inside the next run would be charged to it. Compacts the large-object heap once.
    /// </summary>
    public static void CleanHeap()
    {
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
    }

    /// <summary>The median of <paramref name="values"/> (the upper one of an even count); at least one value.</summary>
    public static double Median(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var sorted = values.Order().ToList();
        if (sorted.Count == 0)
        {
            throw new ArgumentException("the median of no values", nameof(values));
        }

        return sorted[sorted.Count / 2];
    }

    /// <summary>
    /// The <paramref name="p"/> quantile (0..1) of <paramref name="sorted"/> (ascending) by nearest rank, the smallest
    /// value with at least that share of the values at or below it; NaN when there are no values.
    /// </summary>
    public static double NearestRank(IReadOnlyList<double> sorted, double p)
    {
        ArgumentNullException.ThrowIfNull(sorted);
        return sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(sorted.Count * p) - 1, 0, sorted.Count - 1)];
    }
}
