using Metering.Aggregates.Admission;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Interning;
using Metering.DevKit.Workload;
using Metering.Ingest.Pipeline;

namespace Metering.Cli.Arguments;

/// <summary>The options shared by every command that decodes and aggregates, and by every command that generates.</summary>
public static class PipelineArguments
{
    /// <summary>Usage text of <see cref="Pipeline"/>'s options.</summary>
    public const string PipelineUsage = """
          --window DURATION          tumbling window length, 1s..1h dividing a day (default 1m)
          --key-limit N              active aggregate keys per generation (default 4000000)
          --on-key-limit flush|reject  at the key limit: flush early (default) or dead-letter the record
          --dedup-horizon DURATION   how long ids are remembered in memory, in event time (default 24h, at least 1h)
          --max-lateness DURATION    how far behind the newest record a record is still accepted and deduplicated
                                     exactly (default 35d, at least the dedup horizon; older: expired_time); the
                                     engine looks ids older than the horizon up in PostgreSQL, the file mode keeps
                                     the whole window in memory
          --dedup-max-entries N      most ids remembered (default 16000000; then the horizon shrinks, reported)
          --keep-dimensions SPEC     dimensions kept in the key per SKU: "sku=key1,key2;sku2=key3" (default none)
          --max-line-bytes N         longest accepted line (default 16384)
          --max-future-skew DURATION how far ahead of the clock an event time may be (default 10m)
          --unknown-sku accept|reject  a SKU in no price book: metered and rated as unpriced (default), or
                                     dead-lettered unknown_sku (give the edge and the engine the same setting)
          --unknown-account auto|reject  an account with no row in the ledger: accepted and created on the list book by
                                     the flush (default), or dead-lettered unknown_account until it is created (stream and
                                     serve only: they read the ledger's accounts; give both the same setting)
          --account-refresh DURATION how often the account ids are reloaded without a NOTIFY from PostgreSQL (default 10s)
          --event-mapping FILE       read CloudEvents too, mapped to usage records by FILE (docs/cloudevents.md; check it
                                     with metering mapping validate FILE); native records are read as before
        """;

    /// <summary>Usage text of <see cref="Workload"/>'s options.</summary>
    public const string WorkloadUsage = """
          --records N                lines to generate (default 1000000)
          --seed N                   random seed (default 42): same seed, same bytes
          --accounts N               distinct accounts, Zipf-skewed (default 10000)
          --skew X                   Zipf exponent (default 1.0)
          --rate N                   records per second of event time (default 10000)
          --duplicates SHARE         share of exact repeats (default 0.01)
          --bad SHARE                share of bad records (default 0.001)
          --start TIME               event time of the first record (default 2026-11-01T00:00:00Z)
        """;

    /// <summary>Reads the pipeline options.</summary>
    public static (AggregationPipelineOptions Options, RecordCatalog Catalog) Pipeline(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var policyText = args.String("on-key-limit", "flush");
        var policy = policyText switch
        {
            "flush" => KeyLimitPolicy.FlushEarly,
            "reject" => KeyLimitPolicy.Reject,
            _ => throw new CliUsageException($"--on-key-limit must be 'flush' or 'reject', got '{policyText}'"),
        };
        var horizon = args.Duration("dedup-horizon", TimeSpan.FromHours(24));
        if (horizon < TimeSpan.FromHours(1))
        {
            throw new CliUsageException("--dedup-horizon must be at least 1h");
        }

        var lateness = args.Duration("max-lateness", LatenessRule.Default);
        if (lateness < horizon)
        {
            throw new CliUsageException($"--max-lateness ({LatenessRule.Format(lateness)}) must be at least --dedup-horizon ({LatenessRule.Format(horizon)})");
        }

        DimensionPolicy dimensions;
        try
        {
            dimensions = DimensionPolicy.Parse(args.String("keep-dimensions"));
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new CliUsageException("--keep-dimensions: " + e.Message);
        }

        var unknownSkus = UnknownSkus(args);
        var window = args.Duration("window", TimeSpan.FromMinutes(1));
        try
        {
            _ = new TumblingWindows(window);
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new CliUsageException($"--window {window}: must be whole seconds between 1s and 1h that divide an hour evenly (e.g. 1s, 10s, 1m, 5m, 15m, 1h)");
        }

        var options = new AggregationPipelineOptions
        {
            Decoder = new DecoderOptions
            {
                MaxLineBytes = (int)args.Int64("max-line-bytes", 16 * 1024, 64, 16 * 1024 * 1024),
                MaxFutureSkew = args.Duration("max-future-skew", TimeSpan.FromMinutes(10)),
            },
            Aggregator = new AggregatorOptions
            {
                WindowLength = window,
                KeyLimit = (int)args.Int64("key-limit", 4_000_000, 1, 200_000_000),
                OnKeyLimit = policy,
            },
            Dimensions = dimensions,
            UnknownSkus = unknownSkus,
            UnknownAccounts = UnknownAccounts(args),
            DedupHorizon = horizon,
            MaxLateness = lateness,
            DedupMaxEntries = (int)args.Int64("dedup-max-entries", 16_000_000, 16, 500_000_000),
            EventMapping = EventMapping(args),
        };
        return (options, new RecordCatalog(dimensions));
    }

    /// <summary>Reads <c>--event-mapping FILE</c> (null when not given); a missing or invalid file is a usage error listing every problem.</summary>
    public static Metering.Ingest.CloudEvents.EventMapping? EventMapping(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.String("event-mapping") is not { } path)
        {
            return null;
        }

        if (!File.Exists(path))
        {
            throw new CliUsageException($"--event-mapping {path}: no such file");
        }

        var (mapping, errors) = Metering.Ingest.CloudEvents.EventMapping.Validate(File.ReadAllBytes(path));
        return mapping ?? throw new CliUsageException($"--event-mapping {path}: " + string.Join("; ", errors) + " (metering mapping validate FILE lists them one per line)", showUsage: false);
    }

    /// <summary>Reads <c>--unknown-sku accept|reject</c>, the one setting the edge (<c>serve</c>) and the engine share.</summary>
    public static UnknownSkuPolicy UnknownSkus(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var text = args.String("unknown-sku", "accept");
        return text switch
        {
            "accept" => UnknownSkuPolicy.Accept,
            "reject" => UnknownSkuPolicy.Reject,
            _ => throw new CliUsageException($"--unknown-sku must be 'accept' or 'reject', got '{text}'"),
        };
    }

    /// <summary>Reads <c>--unknown-account auto|reject</c>, the one setting the edge (<c>serve</c>) and the engine share.</summary>
    public static UnknownAccountPolicy UnknownAccounts(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var text = args.String("unknown-account", "auto");
        return text switch
        {
            "auto" => UnknownAccountPolicy.Auto,
            "reject" => UnknownAccountPolicy.Reject,
            _ => throw new CliUsageException($"--unknown-account must be 'auto' or 'reject', got '{text}'"),
        };
    }

    /// <summary>Reads <c>--account-refresh</c>: the account directory's poll interval (at least 100ms).</summary>
    public static TimeSpan AccountRefresh(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var refresh = args.Duration("account-refresh", TimeSpan.FromSeconds(10));
        return refresh >= TimeSpan.FromMilliseconds(100) ? refresh : throw new CliUsageException("--account-refresh must be at least 100ms");
    }

    /// <summary>
    /// Refuses <c>--unknown-account reject</c> for <paramref name="command"/>, which has no accounts to check against
    /// (file modes, benchmarks, the main job's fresh database).
    /// </summary>
    public static void RefuseAccountRejection(AggregationPipelineOptions options, string command)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.UnknownAccounts == UnknownAccountPolicy.Reject)
        {
            throw new CliUsageException($"--unknown-account reject: {command} has no accounts to check records against (stream and serve read the ledger's)");
        }
    }

    /// <summary>Reads the workload options.</summary>
    public static WorkloadOptions Workload(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var start = args.String("start");
        DateTimeOffset startTime = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        if (start is not null && !DateTimeOffset.TryParse(start, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out startTime))
        {
            throw new CliUsageException($"--start expects an RFC 3339 time, got '{start}'");
        }

        return new WorkloadOptions
        {
            Records = args.Int64("records", 1_000_000, 0),
            Seed = (int)args.Int64("seed", 42, int.MinValue, int.MaxValue),
            Accounts = (int)args.Int64("accounts", 10_000, 1, 10_000_000),
            Skew = (double)args.Decimal("skew", 1.0m),
            Rate = args.Int64("rate", 10_000, 1, 10_000_000),
            DuplicateShare = (double)args.Decimal("duplicates", 0.01m),
            BadShare = (double)args.Decimal("bad", 0.001m),
            Start = startTime,
        };
    }
}
