using System.Net;
using System.Net.Sockets;
using Metering.Ingest.Streaming;
using Metering.Web.Observability;

namespace Metering.Tests.Streaming;

/// <summary>The watchdog behind the stream worker's /healthz: stalled = partitions + lag + no progress for the timeout.</summary>
public sealed class ConsumptionWatchdogTests
{
    private static async Task<(HttpStatusCode, string)> HealthzAsync(HttpClient http)
    {
        using var response = await http.GetAsync("/healthz");
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<(HttpStatusCode, string)> WaitForAsync(HttpClient http, HttpStatusCode expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        var last = await HealthzAsync(http);
        while (last.Item1 != expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            last = await HealthzAsync(http);
        }

        return last;
    }

    [Fact]
    public async Task Healthz_answers_503_while_partitions_with_lag_see_no_progress_and_ok_again_once_records_are_consumed()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        long read = 100;
        var log = new StringWriter();
        using var watchdog = new ConsumptionWatchdog(TimeSpan.FromMilliseconds(600), () => new ConsumptionSample(3, Interlocked.Read(ref read), false), () => 42, TextWriter.Synchronized(log));
        await using var server = MetricsExport.BuildServer($"http://127.0.0.1:{port}", health: () => watchdog.Health);
        await server.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        var (code, body) = await WaitForAsync(http, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, code);
        Assert.Contains("3 partitions assigned, lag 42", body, StringComparison.Ordinal);
        Assert.Equal(1, watchdog.Stalls);
        Assert.Contains("WATCHDOG: stalled", log.ToString(), StringComparison.Ordinal);

        Interlocked.Increment(ref read); // a record consumed
        (code, body) = await WaitForAsync(http, HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.Equal("ok", body);
        await server.StopAsync();
    }

    [Fact]
    public async Task A_member_without_lag_or_without_partitions_is_idle_not_stalled()
    {
        using var noLag = new ConsumptionWatchdog(TimeSpan.FromMilliseconds(200), () => new ConsumptionSample(3, 7, false), () => 0, TextWriter.Null);
        using var noPartitions = new ConsumptionWatchdog(TimeSpan.FromMilliseconds(200), () => new ConsumptionSample(0, 7, false), () => 42, TextWriter.Null);
        using var lostAndNotBack = new ConsumptionWatchdog(TimeSpan.FromMilliseconds(200), () => new ConsumptionSample(0, 7, true), () => 42, TextWriter.Null);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (lostAndNotBack.Healthy && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await Task.Delay(1_000); // several periods past the timeout for the other two
        Assert.False(lostAndNotBack.Healthy); // lost its assignment and got nothing back: a stall
        Assert.Contains("assignment was lost", lostAndNotBack.Detail, StringComparison.Ordinal);
        Assert.True(noLag.Healthy);
        Assert.True(noPartitions.Healthy);
        Assert.Equal(0, noLag.Stalls + noPartitions.Stalls);
    }
}
