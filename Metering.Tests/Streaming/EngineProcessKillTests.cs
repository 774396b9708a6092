using System.Diagnostics;
using Metering.DevKit.Benchmarks;
using Metering.DevKit.Workload;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.Verification;
using Metering.Tests.Storage;
using Npgsql;
using Xunit.Abstractions;

namespace Metering.Tests.Streaming;

/// <summary>
/// The crash test as an operator would see it: `metering broker` and `metering generate` run as processes of their
/// own, while `metering stream` processes are killed with SIGKILL at random instants, mid-flush or not.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class EngineProcessKillTests(PostgresFixture postgres, ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("metering-kill-").FullName;
    private readonly List<Process> _processes = [];

    public void Dispose()
    {
        foreach (var p in _processes.Where(p => !p.HasExited))
        {
            p.Kill(entireProcessTree: true);
        }

        foreach (var p in _processes)
        {
            p.Dispose();
        }

        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Starts `metering ARGS` from the test's output directory; its output goes to NAME.log.</summary>
    private Process Spawn(string name, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "metering.dll"));
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        var process = Process.Start(info)!;
        var log = new StreamWriter(Path.Combine(_dir, name + ".log"), append: true) { AutoFlush = true };
        var gate = new Lock();
        void Write(string? line)
        {
            if (line is not null)
            {
                lock (gate)
                {
                    log.WriteLine(line);
                }
            }
        }

        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _processes.Add(process);
        return process;
    }

    private string Log(string name)
    {
        var path = Path.Combine(_dir, name + ".log");
        return File.Exists(path) ? string.Join('\n', File.ReadLines(path).TakeLast(15)) : "(no log)";
    }

    private const int Records = 60_000;

    [Fact]
    public async Task Engine_processes_killed_with_sigkill_at_random_instants_while_broker_and_generator_run_end_with_exact_totals()
    {
        var connectionString = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(connectionString);
        await using var db = NpgsqlDataSource.Create(connectionString);
        var options = new StreamingOptions { BootstrapServers = "unused" }; // group "metering", topic "usage": the CLI defaults

        var bootstrapFile = Path.Combine(_dir, "bootstrap");
        Spawn("broker", "broker", "--brokers", "1", "--partitions", "6", "--topic", "usage", "--bootstrap-file", bootstrapFile);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(File.Exists(bootstrapFile) && (await File.ReadAllTextAsync(bootstrapFile)).Trim().Length > 0) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.True(File.Exists(bootstrapFile), "the broker process did not start: " + Log("broker"));
        var bootstrap = (await File.ReadAllTextAsync(bootstrapFile)).Trim();
        var workload = Path.Combine(_dir, "usage.ndjson");
        var generator = Spawn("generate", "generate", "--output", workload, "--records", Records.ToString(System.Globalization.CultureInfo.InvariantCulture), "--accounts", "400",
            "--bootstrap-servers", bootstrap, "--produce-rate", "1500"); // about 40 s of steady production

        string[] stream = ["stream", "--bootstrap-servers", bootstrap, "--pg", connectionString, "--flush-interval", "200ms"];
        var random = new Random();
        long committed = 0;
        for (var kill = 1; kill <= 3; kill++)
        {
            var engine = Spawn("stream", stream);
            // Wait until this engine has committed something (it joined and works), then kill it a random moment later.
            var before = committed;
            deadline = DateTime.UtcNow.AddSeconds(60);
            while ((committed = await PipelineRun.CommittedAsync(db, options, CancellationToken.None)) <= before && DateTime.UtcNow < deadline && !engine.HasExited)
            {
                await Task.Delay(50);
            }

            Assert.False(engine.HasExited, $"engine {kill} exited on its own: " + Log("stream"));
            Assert.True(committed > before, $"engine {kill} committed nothing within 60 s: " + Log("stream"));
            var delay = random.Next(0, 1_500);
            await Task.Delay(delay);
            var atKill = await PipelineRun.CommittedAsync(db, options, CancellationToken.None);
            engine.Kill(); // SIGKILL: no flush, no clean leave
            await engine.WaitForExitAsync();
            committed = await PipelineRun.CommittedAsync(db, options, CancellationToken.None);
            output.WriteLine($"kill {kill}: SIGKILL {delay} ms after its first commit; {committed:N0} records committed so far");
            Assert.True(atKill < Records, $"kill {kill} came after everything was committed: not a mid-stream crash");
        }

        await generator.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(120));
        Assert.True(generator.ExitCode == 0, "the generator failed: " + Log("generate"));
        var truth = GroundTruth.Load(workload + ".truth.json");
        var messages = TopicLog.Messages(bootstrap, "usage");

        var last = Spawn("stream", stream);
        deadline = DateTime.UtcNow.AddSeconds(120);
        while (await PipelineRun.CommittedAsync(db, options, CancellationToken.None) < messages && DateTime.UtcNow < deadline && !last.HasExited)
        {
            await Task.Delay(100);
        }

        last.Kill();
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, options.ConsumerGroup, options.Topic, GroundTruthExpectation.From(TopicLog.Expected(truth, bootstrap, "usage")), CancellationToken.None));
    }
}
