using System.Globalization;
using Metering.Cli.Arguments;
using Metering.DevKit.Benchmarks;

namespace Metering.Cli.Commands;

/// <summary>
/// <c>metering loadgen</c>: runs <see cref="LoadGenerator"/> against <c>POST /v1/events</c> of --url, or of an
/// <see cref="EmbeddedIngestEdge"/> it starts in-process (the same code as <c>metering serve</c>, on an embedded Kafka
/// broker), alternating each round with the same load against a <see cref="DiscardingEndpoint"/> in the same process
/// (the baseline: Kestrel reading and discarding the same bodies), and prints a line per run and the medians, the
/// spread over rounds and the ratio. Exit 1 unless every record posted to the edge was accepted.
/// </summary>
public sealed class LoadgenCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["loadgen"];

    public string Summary => "load-test POST /v1/events against a Kestrel endpoint that discards the same bodies: records/s, p50/p99, ratio";

    public string Usage => "usage: metering loadgen [--url URL --api-key KEY] [options]\n\n" +
        "  --url URL            a running metering serve (default: start one in-process on an embedded Kafka broker)\n" +
        "  --api-key KEY        API key for --url (X-Api-Key); in-process runs make their own\n" +
        "  --connections N      concurrent connections, each posting one request at a time (default 8)\n" +
        "  --batch N            records per request (default 1000)\n" +
        "  --requests N         requests per run (default 500), after --warmup N more, not measured, so the JIT has tiered up (default 200)\n" +
        "  --rounds N           rounds, each a baseline run then an edge run (default 3)\n" +
        "  --no-baseline        measure the edge only\n" +
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
        var warmup = (int)args.Int64("warmup", 200, 0, 1_000_000);
        var rounds = (int)args.Int64("rounds", 3, 1, 100);
        var baseline = !args.Has("no-baseline");
        var accounts = (int)args.Int64("accounts", 10_000, 1, 10_000_000);
        var partitions = (int)args.Int64("partitions", 32, 1, 1024);
        args.RejectUnknown();
        if (url is not null && apiKey is null)
        {
            throw new CliUsageException("--url needs --api-key (a key of the server's --api-keys-file)");
        }

        await using var edge = url is null ? await EmbeddedIngestEdge.StartAsync(partitions, batch, connections, cancellationToken).ConfigureAwait(false) : null;
        await using var discard = baseline ? await DiscardingEndpoint.StartAsync(cancellationToken).ConfigureAwait(false) : null;
        var endpoint = new Uri(new Uri(url ?? edge!.Url), "/v1/events");
        Console.Error.WriteLine($"loadgen: {rounds} round(s) of {requests} requests of {batch} records over {connections} connections to {endpoint} (+{warmup} warm-up){(baseline ? $", each after the same against the discarding endpoint {discard!.Url}" : "")}");
        var load = new LoadGenerator.Load(connections, batch, requests, warmup, accounts);
        var edgeRuns = new List<LoadGenerator.Result>();
        var baseRuns = new List<LoadGenerator.Result>();
        for (var round = 1; round <= rounds; round++)
        {
            if (discard is not null)
            {
                Measurement.CleanHeap();
                var b = await LoadGenerator.RunAsync(new Uri(new Uri(discard.Url), "/v1/events"), "unused", load, cancellationToken).ConfigureAwait(false);
                baseRuns.Add(b);
                Console.WriteLine(Line($"round {round} baseline (Kestrel, read and discard)", b));
            }

            Measurement.CleanHeap();
            var r = await LoadGenerator.RunAsync(endpoint, apiKey ?? edge!.ApiKey, load, cancellationToken).ConfigureAwait(false);
            edgeRuns.Add(r);
            Console.WriteLine(Line($"round {round} edge", r));
        }

        var edgeRate = Measurement.Median(edgeRuns.Select(r => r.RecordsPerSecond));
        var edgeP99 = Measurement.Median(edgeRuns.Select(r => r.P99Milliseconds));
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"loadgen: edge {edgeRate:N0} records/s median of {rounds} (rounds {Spread(edgeRuns)}), p99 {edgeP99:F1} ms, CPU {Measurement.Median(edgeRuns.Select(r => r.CpuMicrosecondsPerRecord)):F2} us/record");
        if (baseRuns.Count > 0)
        {
            var baseRate = Measurement.Median(baseRuns.Select(r => r.RecordsPerSecond));
            var ratios = edgeRuns.Zip(baseRuns, (e, b) => e.RecordsPerSecond / b.RecordsPerSecond).ToList();
            summary += string.Create(CultureInfo.InvariantCulture,
                $"; baseline {baseRate:N0} records/s (rounds {Spread(baseRuns)}), p99 {Measurement.Median(baseRuns.Select(r => r.P99Milliseconds)):F1} ms, CPU {Measurement.Median(baseRuns.Select(r => r.CpuMicrosecondsPerRecord)):F2} us/record; " +
                $"edge / baseline {edgeRate / baseRate:F2} (per round {string.Join(", ", ratios.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))})");
        }

        Console.WriteLine(summary);
        return edgeRuns.TrueForAll(r => r.AllAccepted) ? 0 : 1;
    }

    private static string Spread(List<LoadGenerator.Result> runs) =>
        string.Join(", ", runs.Select(r => r.RecordsPerSecond.ToString("N0", CultureInfo.InvariantCulture)));

    private static string Line(string what, LoadGenerator.Result r) => string.Create(CultureInfo.InvariantCulture,
        $"loadgen: {what}: {r.Records:N0} records in {r.Load.Requests} requests of {r.Load.Batch} over {r.Load.Connections} connections in {r.Elapsed.TotalSeconds:F2} s: " +
        $"{r.RecordsPerSecond:N0} records/s ({r.Accepted:N0} accepted), {r.RequestsPerSecond:F1} requests/s, CPU {r.CpuMicrosecondsPerRecord:F2} us/record; " +
        $"latency p50 {r.P50Milliseconds:F1} ms, p99 {r.P99Milliseconds:F1} ms, max {r.MaxMilliseconds:F1} ms; " +
        $"status {string.Join(", ", r.Statuses.Select(s => $"{s.Key}: {s.Value}"))}");
}
