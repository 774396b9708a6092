using System.Globalization;
using Metering.Cli.Arguments;
using Metering.DevKit.Benchmarks;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering loadgen</c>: runs <see cref="LoadGenerator"/> against <c>POST /v1/events</c> of --url, or of an
/// <see cref="EmbeddedIngestEdge"/> it starts in-process (the same code as <c>metering serve</c>, on an embedded Kafka
/// broker), and prints the result line. Exit 1 unless every record posted was accepted.
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

        await using var edge = url is null ? await EmbeddedIngestEdge.StartAsync(partitions, batch, connections, cancellationToken).ConfigureAwait(false) : null;
        var endpoint = new Uri(new Uri(url ?? edge!.Url), "/v1/events");
        Console.Error.WriteLine($"loadgen: {requests} requests of {batch} records over {connections} connections to {endpoint} (+{warmup} warm-up); ");
        var load = new LoadGenerator.Load(connections, batch, requests, warmup, accounts);
        var r = await LoadGenerator.RunAsync(endpoint, apiKey ?? edge!.ApiKey, load, cancellationToken).ConfigureAwait(false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"loadgen: {r.Records:N0} records in {requests} requests of {batch} over {connections} connections in {r.Elapsed.TotalSeconds:F2} s: " +
            $"{r.RecordsPerSecond:N0} records/s ({r.Accepted:N0} accepted), {r.RequestsPerSecond:F1} requests/s; " +
            $"latency p50 {r.P50Milliseconds:F1} ms, p99 {r.P99Milliseconds:F1} ms, max {r.MaxMilliseconds:F1} ms; " +
            $"status {string.Join(", ", r.Statuses.Select(s => $"{s.Key}: {s.Value}"))}"));
        return r.AllAccepted ? 0 : 1;
    }
}
