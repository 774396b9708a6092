using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// The HTTP edge's load test: N connections, each posting one NDJSON batch to <c>POST /v1/events</c> at a time until the
/// requests are used up, after a warm-up of the same shape that is not measured. Every request carries fresh ids (so no
/// run is answered "duplicate"); every body is built before the clock starts (the generator shares the cores with the
/// server it measures, and formatting 1,000 records per request would be charged to the server). Reports records/s,
/// requests/s, latency percentiles (nearest rank) and the responses' status codes.
/// </summary>
public static class LoadGenerator
{
    /// <summary>The load: <see cref="Requests"/> measured requests of <see cref="Batch"/> records over <see cref="Connections"/> connections.</summary>
    public sealed record Load(int Connections, int Batch, int Requests, int Warmup, int Accounts);

    /// <summary>What the measured requests did; <see cref="LatenciesMs"/> ascending, one per request.</summary>
    /// <remarks>
    /// <see cref="Cpu"/> is this process's CPU time (all threads: generator, server when in-process, embedded broker)
    /// over the measured requests: on a machine shared with other work it moves far less than the wall time does.
    /// </remarks>
    public sealed record Result(Load Load, long Records, long Accepted, TimeSpan Elapsed, TimeSpan Cpu, IReadOnlyList<double> LatenciesMs, IReadOnlyList<KeyValuePair<int, int>> Statuses)
    {
        /// <summary>CPU time of this process per record posted, microseconds.</summary>
        public double CpuMicrosecondsPerRecord => Cpu.TotalMicroseconds / Records;

        /// <summary>Records posted per second.</summary>
        public double RecordsPerSecond => Records / Elapsed.TotalSeconds;

        /// <summary>Requests completed per second.</summary>
        public double RequestsPerSecond => Load.Requests / Elapsed.TotalSeconds;

        /// <summary>Median request latency, milliseconds.</summary>
        public double P50Milliseconds => Measurement.NearestRank(LatenciesMs, 0.50);

        /// <summary>99th percentile request latency, milliseconds.</summary>
        public double P99Milliseconds => Measurement.NearestRank(LatenciesMs, 0.99);

        /// <summary>Slowest request, milliseconds.</summary>
        public double MaxMilliseconds => LatenciesMs[^1];

        /// <summary>Whether the edge accepted every record posted.</summary>
        public bool AllAccepted => Accepted == Records;
    }

    /// <summary>Posts the warm-up, then the measured load, to <paramref name="endpoint"/> with <paramref name="apiKey"/> (X-Api-Key).</summary>
    public static async Task<Result> RunAsync(Uri endpoint, string apiKey, Load load, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(apiKey);
        ArgumentNullException.ThrowIfNull(load);
        ArgumentOutOfRangeException.ThrowIfLessThan(load.Requests, 1);
        var run = Guid.NewGuid().ToString("N")[..8];
        var warmupBodies = Bodies(run + "w", load.Warmup, load.Batch, load.Accounts);
        var bodies = Bodies(run + "m", load.Requests, load.Batch, load.Accounts);
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = load.Connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan, AutomaticDecompression = DecompressionMethods.None };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(120) };
        client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);

        var next = -1;
        var latencies = new double[load.Requests];
        long records = 0, accepted = 0;
        var statuses = new ConcurrentDictionary<int, int>();
        async Task Worker(bool measured, byte[][] bodies)
        {
            var total = bodies.Length;
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= total)
                {
                    return;
                }

                using var content = new ByteArrayContent(bodies[i]);
                bodies[i] = []; // a body is posted once: let the collector have it
                content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
                var started = Stopwatch.GetTimestamp();
                using var response = await client.PostAsync(endpoint, content, cancellationToken).ConfigureAwait(false);
                var text = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                if (measured)
                {
                    latencies[i] = elapsed;
                    statuses.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                    Interlocked.Add(ref records, load.Batch);
                    if (response.StatusCode == HttpStatusCode.Accepted)
                    {
                        Interlocked.Add(ref accepted, AcceptedCount(text));
                    }
                }
            }
        }

        if (load.Warmup > 0)
        {
            await Task.WhenAll(Enumerable.Range(0, load.Connections).Select(_ => Worker(false, warmupBodies))).ConfigureAwait(false);
        }

        next = -1;
        using var self = Process.GetCurrentProcess();
        var cpuBefore = self.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, load.Connections).Select(_ => Worker(true, bodies))).ConfigureAwait(false);
        clock.Stop();
        self.Refresh();
        var cpu = self.TotalProcessorTime - cpuBefore;
        Array.Sort(latencies);
        return new Result(load, records, accepted, clock.Elapsed, cpu, latencies, [.. statuses.OrderBy(s => s.Key)]);
    }

    private static byte[][] Bodies(string run, int requests, int batch, int accounts)
    {
        var bodies = new byte[requests][];
        for (var i = 0; i < requests; i++)
        {
            bodies[i] = Body(run, i, batch, accounts);
        }

        return bodies;
    }

    private static byte[] Body(string run, int request, int batch, int accounts)
    {
        var time = DateTime.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        var sb = new StringBuilder(batch * 150);
        for (var i = 0; i < batch; i++)
        {
            var n = ((long)request * batch) + i;
            sb.Append(CultureInfo.InvariantCulture, $"{{\"id\":\"{run}-{n}\",\"account\":\"acct-{n * 7919 % accounts}\",\"sku\":\"api.calls\",\"quantity\":\"{1 + (n % 5)}.25\",\"time\":\"{time}\",\"dimensions\":{{\"region\":\"eu\"}}}}\n");
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>The <c>"accepted"</c> count of a 202 receipt; 0 when it has none.</summary>
    private static long AcceptedCount(ReadOnlySpan<byte> response)
    {
        var at = response.IndexOf("\"accepted\":"u8);
        if (at < 0)
        {
            return 0;
        }

        at += "\"accepted\":"u8.Length;
        long n = 0;
        for (; at < response.Length && char.IsAsciiDigit((char)response[at]); at++)
        {
            n = (n * 10) + (response[at] - '0');
        }

        return n;
    }
}
