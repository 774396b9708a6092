using Metering.DevKit.Workload;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// The workload file a benchmark reads: generated once (with its ground truth beside it, FILE.truth.json) and reused
/// by later runs, so every run and round of the same options reads the same bytes.
/// </summary>
public static class BenchmarkWorkload
{
    /// <summary>Generates <paramref name="file"/> from <paramref name="workload"/> unless it exists; says so on <paramref name="progress"/>.</summary>
    public static void Ensure(string file, WorkloadOptions workload, TextWriter progress)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(progress);
        if (File.Exists(file))
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        progress.WriteLine($"bench: generating {workload.Records:N0} records -> {file}");
        using var stream = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        new SyntheticWorkloadGenerator(workload).Generate(stream).Save(file + ".truth.json");
    }
}
