using System.Globalization;

namespace Metering.Ingest.Streaming;

/// <summary>
/// The calling thread's CPU time, from Linux's <c>/proc/thread-self/stat</c> (user + system, 10 ms resolution):
/// set against the poll thread's wall time, it tells waiting for a core (a loaded machine) apart from work. Read at
/// the start and the end of a run only (a file read). Null where it is not available.
/// </summary>
internal static class ThreadCpuClock
{
    private const double TicksPerSecond = 100; // USER_HZ, 100 on every Linux the engine runs on

    /// <summary>The calling thread's CPU time so far; null off Linux or when the file cannot be read.</summary>
    public static TimeSpan? Now()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            var stat = File.ReadAllText("/proc/thread-self/stat");
            // Fields after the command name, which is in parentheses and may contain spaces: state is field 3,
            // utime field 14 and stime field 15 (proc(5)).
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return TimeSpan.FromSeconds(ticks / TicksPerSecond);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }
}
