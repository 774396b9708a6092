using Metering.Analytics.ChDb;

namespace Metering.Tests.Analytics;

/// <summary>
/// The test process's one chDB session (the engine is one per process): opened on first use in a temp directory,
/// closed by the session's ProcessExit hook. Each test works in a ClickHouse database of its own.
/// </summary>
internal static class ChDbShared
{
    public static readonly string Directory = Path.Combine(Path.GetTempPath(), "metering-test-chdb-" + Environment.ProcessId);

    private static readonly Lazy<ChDbSession> Lazy = new(() =>
    {
        var session = ChDbSession.Open(Directory);
        // Runs after the session's own exit hook (registered first, in Open) has closed the engine.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(Directory, recursive: true);
            }
            catch (IOException)
            {
                // best effort: the temp directory is the OS's to clean
            }
        };
        return session;
    });

    public static ChDbSession Session => Lazy.Value;

    public static string NewDatabaseName() => "t_" + Guid.NewGuid().ToString("N")[..16];
}
