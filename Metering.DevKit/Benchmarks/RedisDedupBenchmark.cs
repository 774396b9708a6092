using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Metering.Aggregates.Dedup;
using Metering.Redis;
using StackExchange.Redis;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// Redis dedup throughput against the server's own ceiling, measured side by side: the engine's marks (HSET into the
/// event-minute hashes in batches of 10,000, as after a flush) and lookups (HMGET per minute for chunks of 512
/// ids spread over an hour of event time, as per consumed chunk), each as
/// ids/s, versus <c>redis-benchmark -t set -P 16</c> on the same server in the same run.
/// </summary>
public static partial class RedisDedupBenchmark
{
    /// <summary>One round's rates in operations (ids) per second.</summary>
    public sealed record Round(double MarksPerSecond, double LookupsPerSecond, double RedisBenchmarkSetsPerSecond);

    /// <summary>Every round and the medians, against the server at <see cref="Host"/>:<see cref="Port"/>.</summary>
    public sealed record Result(string Host, int Port, int Ids, IReadOnlyList<Round> Rounds)
    {
        /// <summary>Median marks, ids per second.</summary>
        public double MarksPerSecond => Measurement.Median(Rounds.Select(r => r.MarksPerSecond));

        /// <summary>Median lookups, ids per second.</summary>
        public double LookupsPerSecond => Measurement.Median(Rounds.Select(r => r.LookupsPerSecond));

        /// <summary>Median of <c>redis-benchmark -t set -P 16</c>, SETs per second: the baseline of both ratios.</summary>
        public double RedisBenchmarkSetsPerSecond => Measurement.Median(Rounds.Select(r => r.RedisBenchmarkSetsPerSecond));
    }

    /// <summary>
    /// Connects to <paramref name="configuration"/> (a StackExchange.Redis configuration string; redis-benchmark is
    /// pointed at its first endpoint, 127.0.0.1:6379 if it names none) and runs <paramref name="rounds"/> rounds of
    /// <paramref name="ids"/> ids; one line per round on <paramref name="progress"/>.
    /// </summary>
    public static async Task<Result> RunAsync(string configuration, int ids, int rounds, TextWriter progress)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(progress);
        var options = ConfigurationOptions.Parse(configuration);
        using var redis = await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        var (host, port) = options.EndPoints.FirstOrDefault() switch
        {
            System.Net.IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            System.Net.DnsEndPoint dns => (dns.Host, dns.Port),
            _ => ("127.0.0.1", 6379),
        };
        var results = new List<Round>();
        for (var round = 1; round <= rounds; round++)
        {
            var r = await RunRoundAsync(redis, host, port, ids, round).ConfigureAwait(false);
            results.Add(r);
            progress.WriteLine($"bench round {round}/{rounds}: marks {r.MarksPerSecond:N0}/s, lookups {r.LookupsPerSecond:N0}/s, redis-benchmark SET -P 16 {r.RedisBenchmarkSetsPerSecond:N0}/s");
        }

        return new Result(host, port, ids, results);
    }

    /// <summary>Runs one round of <paramref name="ids"/> marks and lookups and one redis-benchmark run.</summary>
    public static async Task<Round> RunRoundAsync(IConnectionMultiplexer redis, string host, int port, int ids, int round)
    {
        ArgumentNullException.ThrowIfNull(redis);
        // A fresh key space per round (and per run: the keys expire after an hour), so marks never hit existing keys.
        var dedup = new RedisDedup(redis, $"bench:{Guid.NewGuid():N}:{round}:", TimeSpan.FromHours(1));
        var random = new Random(round);
        var batch = new SeenId[10_000];
        var clock = Stopwatch.StartNew();
        var marking = new List<Task>();
        var all = new SeenId[ids];
        var now = DateTime.UtcNow.Ticks;
        for (var done = 0; done < ids; done += batch.Length)
        {
            var n = Math.Min(batch.Length, ids - done);
            var slice = new SeenId[n];
            for (var i = 0; i < n; i++)
            {
                var fingerprint = new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64());
                // event times spread over the last hour, as a live stream's records are
                all[done + i] = new SeenId(fingerprint, (ulong)random.NextInt64(1, long.MaxValue), now - random.NextInt64(TimeSpan.TicksPerHour));
                slice[i] = all[done + i];
            }

            marking.Add(dedup.MarkAsync(slice));
            if (marking.Count >= 8)
            {
                await Task.WhenAll(marking).ConfigureAwait(false);
                marking.Clear();
            }
        }

        await Task.WhenAll(marking).ConfigureAwait(false);
        var marks = ids / clock.Elapsed.TotalSeconds;
        if (dedup.Degraded || dedup.Marked != ids)
        {
            throw new InvalidOperationException($"only {dedup.Marked} of {ids} marks were acknowledged");
        }

        var seen = new DedupVerdict[512];
        var firstDigests = new ulong[512];
        long found = 0;
        clock.Restart();
        for (var done = 0; done < ids; done += 512)
        {
            var n = Math.Min(512, ids - done);
            if (!dedup.TryFindSeen(all.AsSpan(done, n), seen, firstDigests))
            {
                throw new InvalidOperationException("a lookup failed");
            }

            for (var i = 0; i < n; i++)
            {
                found += seen[i] == DedupVerdict.Duplicate ? 1 : 0;
            }
        }

        var lookups = ids / clock.Elapsed.TotalSeconds;
        if (found != ids)
        {
            throw new InvalidOperationException($"lookups found {found} of {ids} marked ids");
        }

        return new Round(marks, lookups, await RedisBenchmarkSetsAsync(host, port, ids).ConfigureAwait(false));
    }

    /// <summary><c>redis-benchmark -t set -P 16 -q</c>: the server's SET rate with 16-deep pipelines.</summary>
    private static async Task<double> RedisBenchmarkSetsAsync(string host, int port, int requests)
    {
        var info = new ProcessStartInfo("redis-benchmark") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-h", host, "-p", port.ToString(CultureInfo.InvariantCulture), "-t", "set", "-P", "16", "-q", "-n", requests.ToString(CultureInfo.InvariantCulture) })
        {
            info.ArgumentList.Add(a);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("redis-benchmark did not start");
        var output = await process.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
        await process.WaitForExitAsync().ConfigureAwait(false);
        // "SET: 1234567.89 requests per second, p50=..." (the last carriage-return-separated update is the result)
        var match = SetRate().Matches(output).LastOrDefault()
            ?? throw new InvalidOperationException("unexpected redis-benchmark output: " + output);
        return double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"SET: ([0-9.]+) requests per second")]
    private static partial Regex SetRate();
}
