using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Metering.Cli.Arguments;
using Metering.DevKit.Kafka;
using Metering.Web.Api;
using Metering.Web.HttpIngest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Npgsql;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering loadgen</c>: posts NDJSON batches to <c>POST /v1/events</c> over loopback with N concurrent connections
/// and reports records/s and request latency. Without --url it starts the API in-process on an embedded Kafka broker
/// (the same code as <c>metering serve</c>), so the number includes parsing, producing and waiting for acks.
/// </summary>
public sealed class LoadgenCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["loadgen"];

    public string Summary => "load-test POST /v1/events: NDJSON batches over N connections; records/s, p50/p99 latency";

    public string Usage => "usage: metering loadgen [--url URL --api-key KEY] [options]\n\n" +
        "  --url URL            a running metering serve (default: start one in-process on an embedded Kafka broker)\n" +
        "  --api-key KEY        API key for --url (X-Api-Key); in-process runs make their own\n" +
        "  --connections N      concurrent connections, each posting one request at a time (default 8)\n" +
        "  --batch N            records per request (default 1000)\n" +
        "  --requests N         requests in all (default 500), after --warmup N more (default 20)\n" +
        "  --accounts N         distinct accounts (default 10000)\n" +
        "  --partitions N       partitions of the in-process topic (default 32)\n";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var url = args.String("url");
        var apiKey = args.String("api-key");
        var connections = (int)args.Int64("connections", 8, 1, 1024);
        var batch = (int)args.Int64("batch", 1000, 1, 100_000);
        var requests = (int)args.Int64("requests", 500, 1, 10_000_000);
        var warmup = (int)args.Int64("warmup", 20, 0, 1_000_000);
        var accounts = (int)args.Int64("accounts", 10_000, 1, 10_000_000);
        var partitions = (int)args.Int64("partitions", 32, 1, 1024);
        args.RejectUnknown();
        if (url is not null && apiKey is null)
        {
            throw new CliUsageException("--url needs --api-key (a key of the server's --api-keys-file)");
        }

        EmbeddedKafkaCluster? cluster = null;
        HttpIngestService? service = null;
        WebApplication? app = null;
        NpgsqlDataSource? db = null;
        try
        {
            if (url is null)
            {
                cluster = new EmbeddedKafkaCluster(brokers: 1);
                cluster.CreateTopic("usage", partitions);
                apiKey = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
                var keys = new ApiKeyStore([new ApiKey("loadgen", Convert.FromHexString(ApiKeyStore.Hash(apiKey)), null)]);
                service = new HttpIngestService(new HttpIngestOptions { BootstrapServers = cluster.BootstrapServers, Topic = "usage", MaxRecords = Math.Max(10_000, batch), MaxInflightRecords = Math.Max(200_000, batch * connections) }, null, keys);
                db = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Database=unused;Username=unused"); // the ingest endpoint never opens it
                var options = new ApiOptions { JwtIssuer = "loadgen", JwtAudience = "loadgen", JwtSigningKey = RandomNumberGenerator.GetBytes(32), HttpIngest = service };
                app = ApiHost.Build(options, db, new UnconfiguredUsageStore(), b => b.WebHost.UseUrls("http://127.0.0.1:0"));
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
                url = app.Urls.First();
            }

            var endpoint = new Uri(new Uri(url), "/v1/events");
            Console.Error.WriteLine($"loadgen: {requests} requests of {batch} records over {connections} connections to {endpoint} (+{warmup} warm-up); ");
            var run = Guid.NewGuid().ToString("N")[..8];
            using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan, AutomaticDecompression = DecompressionMethods.None };
            using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(120) };
            client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);

            var next = -1;
            var latencies = new double[requests];
            long records = 0, accepted = 0;
            var statuses = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
            async Task Worker(bool measured, int total)
            {
                while (true)
                {
                    var i = Interlocked.Increment(ref next);
                    if (i >= total)
                    {
                        return;
                    }

                    // Fresh ids per request (so no run is answered "duplicate"); bodies are built outside the timed call.
                    var body = Body(run + (measured ? "m" : "w"), i, batch, accounts);
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson");
                    var started = Stopwatch.GetTimestamp();
                    using var response = await client.PostAsync(endpoint, content, cancellationToken).ConfigureAwait(false);
                    var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                    var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    if (measured)
                    {
                        latencies[i] = elapsed;
                        statuses.AddOrUpdate((int)response.StatusCode, 1, (_, n) => n + 1);
                        Interlocked.Add(ref records, batch);
                        if (response.StatusCode == HttpStatusCode.Accepted)
                        {
                            Interlocked.Add(ref accepted, AcceptedCount(text));
                        }
                    }
                }
            }

            if (warmup > 0)
            {
                await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Worker(false, warmup))).ConfigureAwait(false);
            }

            next = -1;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => Worker(true, requests))).ConfigureAwait(false);
            clock.Stop();
            Array.Sort(latencies);
            var seconds = clock.Elapsed.TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"loadgen: {records:N0} records in {requests} requests of {batch} over {connections} connections in {seconds:F2} s: " +
                $"{records / seconds:N0} records/s ({accepted:N0} accepted), {requests / seconds:F1} requests/s; " +
                $"latency p50 {Percentile(latencies, 0.50):F1} ms, p99 {Percentile(latencies, 0.99):F1} ms, max {latencies[^1]:F1} ms; " +
                $"status {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}: {s.Value}"))}"));
            return accepted == records ? 0 : 1;
        }
        finally
        {
            if (app is not null)
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }

            service?.Dispose();
            if (db is not null)
            {
                await db.DisposeAsync().ConfigureAwait(false);
            }

            cluster?.Dispose();
        }
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

    private static long AcceptedCount(string response)
    {
        var at = response.IndexOf("\"accepted\":", StringComparison.Ordinal);
        if (at < 0)
        {
            return 0;
        }

        at += "\"accepted\":".Length;
        var end = at;
        while (end < response.Length && char.IsAsciiDigit(response[end]))
        {
            end++;
        }

        return long.Parse(response.AsSpan(at, end - at), CultureInfo.InvariantCulture);
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
