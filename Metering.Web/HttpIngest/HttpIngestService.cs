using Confluent.Kafka;
using Metering.Aggregates.Admission;
using Metering.Aggregates.Dedup;
using Metering.Aggregates.Interning;
using Metering.Ingest.Kafka;
using Metering.Redis;
using StackExchange.Redis;

namespace Metering.Web.HttpIngest;

/// <summary>
/// What <c>POST /v1/events</c> shares across requests: ONE long-lived idempotent producer (acks=all, lz4, a few ms of
/// linger), the bound on records in flight, the Redis dedup lookups and marks, the API keys, and the interning
/// catalog the parsers use. Thread-safe. Dispose flushes the producer.
/// </summary>
public sealed class HttpIngestService : IDisposable
{
    private const int CatalogAccounts = 1_000_000;
    private const int CatalogSkus = 100_000;

    private readonly IProducer<string?, byte[]> _producer;
    private readonly RedisDedup? _edgeDedup;
    private readonly RedisDedup? _engineDedup;
    private readonly Metering.Ledger.PriceBooks.PriceCatalogSource? _prices;
    private volatile AdmissionState _admission;
    private RecordCatalog _catalog = NewCatalog();
    private long _inflight;

    /// <summary>Creates the producer (it connects lazily) and, with <paramref name="redis"/>, the shared dedup.</summary>
    public HttpIngestService(HttpIngestOptions options, IConnectionMultiplexer? redis = null, ApiKeyStore? apiKeys = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        ApiKeys = apiKeys;
        var admission = options.Admission;
        admission.Validate();
        _prices = options.Prices;
        _admission = new AdmissionState(long.MinValue, admission);
        CardinalityLimits = new EdgeCardinalityLimits(options.MaxSkusPerAccount, options.MaxSkusPerCredential, options.KnownSkus, options.Decoder.Clock);
        FollowPrices();
        var config = options.Security.Apply(KafkaPartitioning.Apply(new ProducerConfig
        {
            BootstrapServers = options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            CompressionType = CompressionType.Lz4,
            LingerMs = 5,
            BatchSize = 1 << 20,
            // The in-flight bound answers 429 well before librdkafka's own queue fills.
            QueueBufferingMaxMessages = Math.Max(100_000, options.MaxInflightRecords * 2),
            QueueBufferingMaxKbytes = 1 << 20,
            MessageTimeoutMs = (int)options.DeliveryTimeout.TotalMilliseconds,
            // A receipt needs only whether its record was acknowledged: the default ("all") copies every record's key
            // and value back out of librdkafka into new managed arrays and strings for each delivery report.
            DeliveryReportFields = "status",
        }));
        _producer = new ProducerBuilder<string?, byte[]>(config).Build();
        if (redis is not null)
        {
            // The edge marks its own keys: marking the engine's keys ("metering:{topic}:d:...") would make the engine
            // drop every record the edge produced as already counted. It reads both: an id the engine counted is a
            // duplicate too.
            _edgeDedup = new RedisDedup(redis, $"metering:{options.Topic}:edge:", options.DedupHorizon);
            _engineDedup = new RedisDedup(redis, $"metering:{options.Topic}:", options.DedupHorizon);
        }
    }

    /// <summary>The limits and Kafka settings.</summary>
    public HttpIngestOptions Options { get; }

    /// <summary>The API keys (null: only JWTs authenticate).</summary>
    public ApiKeyStore? ApiKeys { get; }

    /// <summary>True when Redis dedup is configured.</summary>
    public bool HasSharedDedup => _edgeDedup is not null;

    /// <summary>True while Redis is unreachable (lookups answer "not seen": the engine's dedup is then the only guard).</summary>
    public bool DedupDegraded => _edgeDedup is { Degraded: true } || _engineDedup is { Degraded: true };

    /// <summary>Records produced and not yet acknowledged.</summary>
    public long Inflight => Interlocked.Read(ref _inflight);

    internal IProducer<string?, byte[]> Producer => _producer;

    /// <summary>Reserves room for <paramref name="records"/> in flight; false (nothing reserved) when they do not fit under the limit.</summary>
    public bool TryReserve(int records)
    {
        while (true)
        {
            var current = Interlocked.Read(ref _inflight);
            if (current + records > Options.MaxInflightRecords)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _inflight, current + records, current) == current)
            {
                HttpIngestMetrics.SetInflight(current + records);
                return true;
            }
        }
    }

    /// <summary>Gives back room reserved with <see cref="TryReserve"/>.</summary>
    public void Release(int records) => HttpIngestMetrics.SetInflight(Interlocked.Add(ref _inflight, -records));

    /// <summary>
    /// The shared admission rule (<see cref="RecordAdmission"/>, the engine's) over the shared catalog, with the
    /// clock read now. The catalog only maps strings to ids for the parser (the edge keeps no aggregates), so when
    /// untrusted input has filled half of it, it is replaced instead of rejecting records with cardinality_limit;
    /// requests in progress keep the old one.
    /// </summary>
    internal RecordAdmission NewAdmission()
    {
        var catalog = Volatile.Read(ref _catalog);
        if (catalog.Accounts.Count > CatalogAccounts / 2 || catalog.Skus.Count > CatalogSkus / 2)
        {
            Interlocked.CompareExchange(ref _catalog, NewCatalog(), catalog);
            catalog = Volatile.Read(ref _catalog);
        }

        return new RecordAdmission(catalog, FollowPrices());
    }

    /// <summary>
    /// The admission rules for a request starting now: when the registry (<see cref="HttpIngestOptions.Prices"/>)
    /// moved to a new revision, its known SKUs replace the previous ones here and in <see cref="CardinalityLimits"/>
    /// (a registry with no books keeps them, as the engine does). Two requests racing over a new revision both
    /// compute the same set; either write wins.
    /// </summary>
    private AdmissionOptions FollowPrices()
    {
        var state = _admission;
        if (_prices is not { } prices || prices.Revision == state.Revision)
        {
            return state.Options;
        }

        var revision = prices.Revision;
        if (prices.Current?.KnownSkus() is { } known)
        {
            state = new AdmissionState(revision, state.Options with { KnownSkus = known });
            CardinalityLimits.UseKnownSkus(known);
        }
        else
        {
            state = state with { Revision = revision };
        }

        _admission = state;
        return state.Options;
    }

    /// <summary>The per-account and per-credential SKU limits of this edge.</summary>
    public EdgeCardinalityLimits CardinalityLimits { get; }

    /// <summary>
    /// Per id, what Redis knows of it: <see cref="DedupVerdict.Duplicate"/> when it was accepted before (by the edge) or
    /// counted by the engine with the same payload digest, <see cref="DedupVerdict.Conflict"/> when either knows it
    /// with another digest (a conflict wins: the id is then taken by other usage), otherwise
    /// <see cref="DedupVerdict.New"/>; null when Redis is not configured or did not answer within
    /// <see cref="HttpIngestOptions.DedupLookupTimeout"/> (then nothing is known to be seen). Both lookups go out at
    /// once and no thread waits for them.
    /// </summary>
    internal async Task<DedupVerdict[]?> TryFindSeenAsync(SeenId[] ids)
    {
        if (_edgeDedup is null || _engineDedup is null)
        {
            return null;
        }

        var timeout = Options.DedupLookupTimeout;
        var edge = _edgeDedup.TryFindSeenAsync(ids, timeout);
        var engine = _engineDedup.TryFindSeenAsync(ids, timeout);
        var engineSeen = await engine.ConfigureAwait(false);
        if (await edge.ConfigureAwait(false) is not { } seen)
        {
            HttpIngestMetrics.DedupLookupUnanswered();
            return null;
        }

        if (engineSeen is null)
        {
            HttpIngestMetrics.DedupLookupUnanswered();
        }
        else
        {
            for (var i = 0; i < engineSeen.Length; i++)
            {
                if (engineSeen[i] == DedupVerdict.Conflict || (engineSeen[i] == DedupVerdict.Duplicate && seen[i] == DedupVerdict.New))
                {
                    seen[i] = engineSeen[i];
                }
            }
        }

        return seen;
    }

    /// <summary>Marks ids (with their payload digests) Kafka acknowledged; awaits Redis (failures go to RedisDedup's backlog and are replayed).</summary>
    internal Task MarkAcceptedAsync(SeenId[] ids) =>
        _edgeDedup is null || ids.Length == 0 ? Task.CompletedTask : _edgeDedup.MarkAsync(ids);

    /// <inheritdoc />
    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }

    /// <summary>The admission rules and the registry revision their known SKUs come from.</summary>
    private sealed record AdmissionState(long Revision, AdmissionOptions Options);

    private static RecordCatalog NewCatalog() => new(DimensionPolicy.KeepNone, CatalogAccounts, CatalogSkus, 1);
}
