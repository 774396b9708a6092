using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Metering.DevKit.Kafka;
using Metering.Tests.Storage;

namespace Metering.Tests.Streaming;

/// <summary>
/// `metering stream` as a process, started while its infrastructure is not there: it retries with a line per
/// attempt for --startup-timeout, then exits 1 with one line, never an unhandled exception; and it starts normally
/// if the infrastructure comes back within the budget.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class StreamStartupTests(PostgresFixture postgres) : IDisposable
{
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    private static int ClosedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port; // nothing listens once the probe is gone
    }

    private sealed class StreamProcess : IDisposable
    {
        private readonly StringBuilder _stderr = new();
        private readonly Lock _gate = new();

        public StreamProcess(params string[] args)
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "metering.dll"));
            info.ArgumentList.Add("stream");
            foreach (var a in args)
            {
                info.ArgumentList.Add(a);
            }

            Process = Process.Start(info)!;
            Process.ErrorDataReceived += (_, e) =>
            {
                lock (_gate)
                {
                    _stderr.AppendLine(e.Data);
                }
            };
            Process.OutputDataReceived += (_, e) =>
            {
                lock (_gate)
                {
                    _stderr.AppendLine(e.Data);
                }
            };
            Process.BeginErrorReadLine();
            Process.BeginOutputReadLine();
        }

        public Process Process { get; }

        public string Output
        {
            get
            {
                lock (_gate)
                {
                    return _stderr.ToString();
                }
            }
        }

        public async Task<bool> WaitForOutputAsync(string text, int seconds)
        {
            var deadline = DateTime.UtcNow.AddSeconds(seconds);
            while (!Output.Contains(text, StringComparison.Ordinal) && DateTime.UtcNow < deadline && !Process.HasExited)
            {
                await Task.Delay(50);
            }

            return Output.Contains(text, StringComparison.Ordinal);
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
            }

            Process.Dispose();
        }
    }

    private static void AssertNoStackTrace(string output)
    {
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_started_with_postgres_unreachable_retries_then_exits_1_with_one_line_and_no_stack_trace()
    {
        using var stream = new StreamProcess("--bootstrap-servers", _kafka.BootstrapServers, "--pg", $"Host=127.0.0.1;Port={ClosedPort()};Username=metering;Database=metering;Timeout=2", "--startup-timeout", "4s");
        await stream.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        var output = stream.Output;
        Assert.Equal(1, stream.Process.ExitCode);
        Assert.Contains("stream: PostgreSQL not reachable (attempt 2,", output, StringComparison.Ordinal);
        Assert.Contains("stream: PostgreSQL still not reachable after", output, StringComparison.Ordinal);
        AssertNoStackTrace(output);
    }

    [Fact]
    public async Task Stream_started_with_kafka_unreachable_retries_then_exits_1_with_one_line_and_no_stack_trace()
    {
        var connectionString = await postgres.NewDatabaseAsync();
        using var stream = new StreamProcess("--bootstrap-servers", $"127.0.0.1:{ClosedPort()}", "--pg", connectionString, "--startup-timeout", "4s");
        await stream.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(90));
        var output = stream.Output;
        Assert.Equal(1, stream.Process.ExitCode);
        Assert.Contains("stream: Kafka not reachable (attempt 1,", output, StringComparison.Ordinal);
        Assert.Contains("stream: Kafka still not reachable after", output, StringComparison.Ordinal);
        AssertNoStackTrace(output);
    }

    [Fact]
    public async Task Stream_started_while_postgres_is_down_starts_once_postgres_is_back_within_the_budget()
    {
        var connectionString = await postgres.NewDatabaseAsync();
        _kafka.CreateTopic("usage", 2);
        await postgres.Server.StopAsync();
        Npgsql.NpgsqlConnection.ClearAllPools(); // this process's pooled connections died with the server
        try
        {
            using var stream = new StreamProcess("--bootstrap-servers", _kafka.BootstrapServers, "--pg", connectionString, "--startup-timeout", "60s", "--instance-id", "");
            Assert.True(await stream.WaitForOutputAsync("stream: PostgreSQL not reachable (attempt 1,", 60), "no retry line: " + stream.Output);
            await postgres.Server.StartAsync();
            Assert.True(await stream.WaitForOutputAsync("stream: consuming 'usage'", 60), "did not start once PostgreSQL was back: " + stream.Output);
            Assert.False(stream.Process.HasExited);
            AssertNoStackTrace(stream.Output);
        }
        finally
        {
            await postgres.Server.StartAsync(); // the fixture's server serves the other tests
        }
    }
}
