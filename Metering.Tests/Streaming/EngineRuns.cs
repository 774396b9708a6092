using Metering.DevKit.Benchmarks;
using Metering.Ingest.Streaming;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>Runs a streaming engine on a thread of its own until the ledger has committed a number of records.</summary>
internal static class EngineRuns
{
    /// <summary>
    /// Starts <paramref name="engine"/>, waits until <paramref name="expected"/> records are committed (or the engine
    /// stops, or <paramref name="timeoutSeconds"/> pass), then stops it cleanly. The caller asserts what it expects.
    /// </summary>
    public static async Task RunUntilCommittedAsync(StreamingEngine engine, NpgsqlDataSource db, StreamingOptions options, long expected, int timeoutSeconds = 90)
    {
        using var stop = new CancellationTokenSource();
        var run = Task.Factory.StartNew(() => engine.RunAsync(stop.Token), TaskCreationOptions.LongRunning).Unwrap();
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < expected && DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        try
        {
            await run;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Everything was committed before this engine got past its start-up (a property test's last run after
            // crashing runs that finished the input): stopped while reloading its dedup state, it had nothing to do.
            if (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < expected)
            {
                throw;
            }
        }
    }

    /// <summary>
    /// Waits until the ledger has committed <paramref name="expected"/> records of a running <paramref name="engine"/>
    /// (or it stops, or 60 s pass), then asserts that it did.
    /// </summary>
    public static async Task WaitForCommittedAsync(NpgsqlDataSource db, StreamingOptions options, long expected, Task engine)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < expected && DateTime.UtcNow < deadline && !engine.IsCompleted)
        {
            await Task.Delay(50);
        }

        Xunit.Assert.Equal(expected, await PipelineRun.CommittedAsync(db, options, CancellationToken.None));
    }
}
