using Metering.Aggregates.Admission;
using Metering.Aggregates.Decoding;
using Metering.Web.HttpIngest;
using StackExchange.Redis;

namespace Metering.Cli.Arguments;

/// <summary>The options of <c>metering serve</c> for <c>POST /v1/events</c>.</summary>
public static class HttpIngestArguments
{
    /// <summary>Usage text of the options.</summary>
    public const string Usage = """

        POST /v1/events (HTTP ingest into --topic; enabled by --bootstrap-servers):
          --ingest-max-body-bytes N            largest request body (default 10485760 = 10 MiB; more: 413)
          --ingest-max-records N               most records per request (default 10000; more: 413)
          --max-line-bytes N                   largest record, as the engine's (default 16384; longer: receipt line_too_long)
          --max-future-skew DURATION           how far ahead of the clock an event time may be, as the engine's (default 10m)
          --ingest-max-inflight-records N      records waiting for Kafka acks over all requests (default 200000; more: 429)
          --ingest-retry-after SECONDS         Retry-After of a 429 (default 1)
          --ingest-max-concurrent-requests N   requests being read or produced at once (default 256; more: 429 before reading)
          --ingest-max-buffered-bytes N        byte budget of the bodies held at once: Content-Length, or 1 MiB steps of a
                                               chunked body (default 134217728 = 128 MiB; full: 429 before/while reading)
          --api-keys-file FILE                 API keys: [{"id","key_sha256","accounts": [..] | null}] (default: JWTs only)
          --redis HOST:PORT                    shared dedup: a record already accepted is answered duplicate
          --dedup-horizon DURATION             how long Redis remembers accepted ids, as the engine's (default 24h)
          --max-lateness DURATION              the engine's lateness window, as the engine's (default 35d)
          --ingest-lag-grace DURATION          records older than max lateness - future skew - this are refused
                                               expired_time, as the engine would once it lags this much (default 1h)
          --unknown-sku accept|reject          as the engine's: a SKU in no --pricebook is accepted (default) or refused
          --unknown-account auto|reject        as the engine's: an account with no row is accepted (default auto: the
                                               engine creates it) or refused with receipt unknown_account
          --account-refresh DURATION           with reject: how often the account ids are reloaded without a NOTIFY (default 10s)
          --ingest-max-skus-per-account N      distinct SKUs unknown to the price books per account per UTC day
                                               (default 1000, 0 = none; more: receipt edge_cardinality_limit)
          --ingest-max-skus-per-credential N   the same per API key or JWT subject (default 10000, 0 = none)
          --ingest-dedup-timeout DURATION      a Redis lookup slower than this counts as "not seen" (default 250ms)

        """;

    /// <summary>The options <see cref="Create"/> reads (see <see cref="LedgerArguments.Options"/>).</summary>
    public static IReadOnlyList<string> Options { get; } =
    [
        "account-refresh", "api-keys-file", "bootstrap-servers", "dedup-horizon", "ingest-dedup-timeout", "ingest-lag-grace", "ingest-max-body-bytes",
        "ingest-max-buffered-bytes", "ingest-max-concurrent-requests", "ingest-max-inflight-records", "ingest-max-records",
        "ingest-max-skus-per-account", "ingest-max-skus-per-credential", "ingest-retry-after", "max-future-skew", "max-lateness", "max-line-bytes",
        "topic", "unknown-account", "unknown-sku",
    ];

    /// <summary>
    /// The ingest service, or null when no --bootstrap-servers is given (the endpoint then answers 503).
    /// <paramref name="accounts"/> is needed with <c>--unknown-account reject</c> (see <see cref="Read"/>).
    /// </summary>
    public static HttpIngestService? Create(CliArguments args, IConnectionMultiplexer? redis, Aggregates.Admission.IAccountDirectory? accounts = null) =>
        Read(args) is { } settings ? new HttpIngestService(settings.Options with { Accounts = accounts }, redis, settings.Keys) : null;

    /// <summary>
    /// Reads and checks the options without starting anything: the ingest options and API keys, or null when no
    /// --bootstrap-servers is given. With <c>--unknown-account reject</c> the caller gives the options the account
    /// directory (<see cref="HttpIngestOptions.Accounts"/>) before creating the service, which needs PostgreSQL.
    /// </summary>
    public static (HttpIngestOptions Options, ApiKeyStore? Keys)? Read(CliArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var security = KafkaArguments.Security(args);
        var topic = args.String("topic", "usage")!;
        var maxBody = args.Int64("ingest-max-body-bytes", 10L << 20, 1024, 1L << 30);
        var maxRecords = (int)args.Int64("ingest-max-records", 10_000, 1, 1_000_000);
        // The engine's own option names (and METERING_ variables): the edge must not accept what the engine dead-letters.
        var maxRecordBytes = (int)args.Int64("max-line-bytes", 16 * 1024, 64, 16 << 20);
        var futureSkew = args.Duration("max-future-skew", TimeSpan.FromMinutes(10));
        var maxInflight = (int)args.Int64("ingest-max-inflight-records", 200_000, 1, 100_000_000);
        var retryAfter = (int)args.Int64("ingest-retry-after", 1, 1, 3600);
        var maxRequests = (int)args.Int64("ingest-max-concurrent-requests", 256, 1, 1_000_000);
        var maxBuffered = args.Int64("ingest-max-buffered-bytes", 128L << 20, 1024, 1L << 40);
        var dedupTimeout = args.Duration("ingest-dedup-timeout", TimeSpan.FromMilliseconds(250));
        if (dedupTimeout < TimeSpan.FromMilliseconds(1))
        {
            throw new CliUsageException("--ingest-dedup-timeout must be at least 1ms");
        }

        var horizon = args.Duration("dedup-horizon", TimeSpan.FromHours(24));
        if (horizon < TimeSpan.FromHours(1))
        {
            throw new CliUsageException("--dedup-horizon must be at least 1h");
        }
        var lagGrace = args.Duration("ingest-lag-grace", TimeSpan.FromHours(1));
        var lateness = args.Duration("max-lateness", LatenessRule.Default);
        if (LatenessRule.EdgeMaxAge(lateness, futureSkew, lagGrace) <= TimeSpan.Zero)
        {
            throw new CliUsageException($"--max-lateness ({lateness}) must exceed --max-future-skew ({futureSkew}) plus --ingest-lag-grace ({lagGrace})");
        }

        var unknownSkus = PipelineArguments.UnknownSkus(args);
        var knownSkus = LedgerArguments.Prices(args)?.KnownSkus();
        if (unknownSkus == UnknownSkuPolicy.Reject && knownSkus is null)
        {
            throw new CliUsageException("--unknown-sku reject needs a price book (--pricebook FILE)");
        }

        var unknownAccounts = PipelineArguments.UnknownAccounts(args);
        var maxSkusPerAccount = (int)args.Int64("ingest-max-skus-per-account", 1_000, 0, 10_000_000);
        var maxSkusPerCredential = (int)args.Int64("ingest-max-skus-per-credential", 10_000, 0, 10_000_000);
        var keysFile = args.String("api-keys-file");
        if (args.String("bootstrap-servers") is not { } bootstrap)
        {
            return null;
        }

        if (maxInflight < maxRecords)
        {
            throw new CliUsageException($"--ingest-max-inflight-records ({maxInflight}) must be at least --ingest-max-records ({maxRecords}), or a full request could never be produced");
        }

        if (maxBuffered < maxBody)
        {
            throw new CliUsageException($"--ingest-max-buffered-bytes ({maxBuffered}) must be at least --ingest-max-body-bytes ({maxBody}), or a full body could never be read");
        }

        ApiKeyStore? keys = null;
        if (keysFile is not null)
        {
            if (!File.Exists(keysFile))
            {
                throw new CliUsageException($"--api-keys-file {keysFile}: no such file");
            }

            try
            {
                keys = ApiKeyStore.Parse(File.ReadAllText(keysFile), keysFile);
            }
            catch (Exception e) when (e is FormatException or System.Text.Json.JsonException)
            {
                throw new CliUsageException($"--api-keys-file: {e.Message}");
            }
        }

        var options = new HttpIngestOptions
        {
            BootstrapServers = bootstrap,
            Topic = topic,
            Security = security,
            MaxBodyBytes = maxBody,
            MaxRecords = maxRecords,
            MaxInflightRecords = maxInflight,
            RetryAfterSeconds = retryAfter,
            DedupHorizon = horizon,
            DedupLookupTimeout = dedupTimeout,
            MaxConcurrentRequests = maxRequests,
            MaxBufferedBytes = maxBuffered,
            Decoder = new DecoderOptions { MaxLineBytes = maxRecordBytes, MaxFutureSkew = futureSkew },
            ConsumerLagGrace = lagGrace,
            MaxLateness = lateness,
            UnknownSkus = unknownSkus,
            KnownSkus = knownSkus,
            UnknownAccounts = unknownAccounts,
            MaxSkusPerAccount = maxSkusPerAccount,
            MaxSkusPerCredential = maxSkusPerCredential,
        };
        return (options, keys);
    }
}
