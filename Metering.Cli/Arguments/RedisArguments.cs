using Metering.Redis;
using Metering.Ingest.Streaming;
using Npgsql;
using StackExchange.Redis;

namespace Metering.Cli.Arguments;

/// <summary>The <c>--redis</c> option: the shared dedup horizon and live counters of every engine instance.</summary>
public static class RedisArguments
{
    /// <summary>Usage text of the option.</summary>
    public const string Usage = """
          --redis HOST:PORT[,options]  Redis for the dedup horizon shared across instances and live usage counters
                                       (StackExchange.Redis configuration string; default: none, own horizon only)

        """;

    /// <summary>The option <see cref="Connect"/> reads (see <see cref="LedgerArguments.Options"/>).</summary>
    public static IReadOnlyList<string> Options { get; } = ["redis"];

    /// <summary>Connects (without failing when Redis is down: it reconnects by itself); null when --redis is not given.</summary>
    public static IConnectionMultiplexer? Connect(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.String("redis") is not { } configuration)
        {
            return null;
        }

        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        return ConnectionMultiplexer.Connect(options);
    }

    /// <summary>The engine's options with the shared dedup and the live counters on <paramref name="redis"/>.</summary>
    public static StreamingOptions WithRedis(StreamingOptions options, IConnectionMultiplexer? redis, NpgsqlDataSource db)
    {
        ArgumentNullException.ThrowIfNull(options);
        return redis is null ? options : options with
        {
            SharedDedup = new RedisDedup(redis, $"metering:{options.Topic}:", options.Pipeline.DedupHorizon),
            LiveCounters = new RedisLiveCounters(redis, "metering:", db),
        };
    }
}
