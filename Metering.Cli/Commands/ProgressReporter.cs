using System.Diagnostics;

namespace Metering.Cli.Commands;

/// <summary>
/// Prints "what: N records, R/s" to stderr while long work runs: in place on a terminal every second, as a new
/// line every five seconds when stderr is redirected (CI logs). Silent for work that ends within the first period.
/// </summary>
public sealed class ProgressReporter : IDisposable
{
    private readonly Timer _timer;
    private readonly Func<long> _progress;
    private readonly string _what;
    private readonly string _unit;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _inPlace = !Console.IsErrorRedirected;
    private bool _printed;

    /// <summary>Starts reporting <paramref name="progress"/> (a count of <paramref name="unit"/>) under <paramref name="what"/>.</summary>
    public ProgressReporter(string what, Func<long> progress, string unit = "records")
    {
        _what = what;
        _unit = unit;
        _progress = progress;
        var period = _inPlace ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(5);
        _timer = new Timer(_ => Print(), null, period, period);
    }

    private void Print()
    {
        var n = _progress();
        var line = $"{_what}: {n:N0} {_unit}, {n / Math.Max(_clock.Elapsed.TotalSeconds, 1e-9):N0}/s";
        if (_inPlace)
        {
            Console.Error.Write("\r" + line + "   ");
        }
        else
        {
            Console.Error.WriteLine(line);
        }

        _printed = true;
    }

    /// <summary>Stops reporting (and ends the in-place line).</summary>
    public void Dispose()
    {
        _timer.Dispose();
        if (_printed && _inPlace)
        {
            Console.Error.WriteLine();
        }
    }
}
