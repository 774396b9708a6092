using System.Globalization;
using System.Text.RegularExpressions;

namespace Metering.Tests.Cli;

/// <summary>The summary of <c>metering aggregate</c>, read from the real executable's stderr.</summary>
public sealed partial class AggregateSummaryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("metering-aggregate-summary-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [GeneratedRegex(@"^throughput: ([\d,]+) records/s, [\d.,]+ MB/s over the whole process \([\d.,]+ MB in ([\d.]+)s from process start: " +
        @"start-up ([\d.]+)s, set-up ([\d.]+)s, read\+decode\+dedup\+aggregate ([\d.]+)s, drain ([\d.]+)s, sort\+write ([\d.]+)s\); pipeline alone ([\d,]+) records/s$",
        RegexOptions.Multiline)]
    private static partial Regex Summary();

    [Fact]
    public async Task Summary_counts_the_whole_process_from_its_start_and_splits_it_into_phases()
    {
        var input = Path.Combine(_dir, "usage.ndjson");
        var generated = await MeteringProcess.RunAsync(_dir, null, "generate", "--records", "30000", "--output", input);
        Assert.Equal(0, generated.Code);

        var run = await MeteringProcess.RunAsync(_dir, null, "aggregate", "--input", input, "--output", Path.Combine(_dir, "out.ndjson"));

        Assert.Equal(0, run.Code);
        var m = Summary().Match(run.Stderr);
        Assert.True(m.Success, run.Stderr);
        double Number(int group) => double.Parse(m.Groups[group].Value, NumberStyles.Number, CultureInfo.InvariantCulture);
        var whole = Number(2);
        var phases = new[] { Number(3), Number(4), Number(5), Number(6), Number(7) };
        // The runtime's own start-up happens before Main: counted from the process start, it is never zero.
        Assert.True(phases[0] > 0, run.Stderr);
        // The phases are parts of the whole (each printed rounded to 10 ms).
        Assert.True(phases.Sum() <= whole + 0.03, run.Stderr);
        // The leading rate is the records over the whole time, so it is below the pipeline's own rate.
        Assert.Equal(30_000 / whole, Number(1), 30_000 / whole * 0.02 + 1);
        Assert.True(Number(1) <= Number(8), run.Stderr);
    }
}
