using Metering.Aggregates.Admission;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Interning;

namespace Metering.Ingest.Pipeline;

/// <summary>Settings of the decode -> dedup -> aggregate pipeline.</summary>
public sealed record AggregationPipelineOptions
{
    /// <summary>Decoder limits.</summary>
    public DecoderOptions Decoder { get; init; } = new();

    /// <summary>Which dimensions each SKU keeps in its aggregate key (default none).</summary>
    public DimensionPolicy Dimensions { get; init; } = DimensionPolicy.KeepNone;

    /// <summary>Distinct accounts one interning catalog holds (default 4,000,000; the engine renews a full catalog).</summary>
    public int MaxAccounts { get; init; } = 4_000_000;

    /// <summary>Distinct SKUs one interning catalog holds (default 100,000).</summary>
    public int MaxSkus { get; init; } = 100_000;

    /// <summary>Distinct kept-dimension sets one interning catalog holds (default 1,000,000).</summary>
    public int MaxDimensionSets { get; init; } = 1_000_000;

    /// <summary>What a SKU no price book knows gets (default: accepted and rated as unpriced).</summary>
    public UnknownSkuPolicy UnknownSkus { get; init; } = UnknownSkuPolicy.Accept;

    /// <summary>What an account without a row in the ledger gets (default: accepted, created on the list book by the flush).</summary>
    public UnknownAccountPolicy UnknownAccounts { get; init; } = UnknownAccountPolicy.Auto;

    /// <summary>
    /// The admission rules for these options; <paramref name="knownSkus"/> is needed to reject unknown SKUs and
    /// <paramref name="accounts"/> to reject unknown accounts (else <see cref="AdmissionOptions.Validate"/> says so).
    /// </summary>
    public AdmissionOptions Admission(IReadOnlySet<string>? knownSkus, IAccountDirectory? accounts = null) => new()
    {
        Decoder = Decoder,
        UnknownSkus = UnknownSkus,
        KnownSkus = knownSkus,
        UnknownAccounts = UnknownAccounts,
        Accounts = accounts,
    };

    /// <summary>Aggregate windows and key limit.</summary>
    public AggregatorOptions Aggregator { get; init; } = new();

    /// <summary>How long an id is remembered, in event time (default 24 h).</summary>
    public TimeSpan DedupHorizon { get; init; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How far behind the newest event time a record is still accepted and exactly deduplicated (default 35 days,
    /// <see cref="LatenessRule"/>; at least <see cref="DedupHorizon"/>). The engine keeps <see cref="DedupHorizon"/>
    /// in memory and looks older ids up in PostgreSQL's seen_id_blocks; the file mode keeps the whole window in memory.
    /// </summary>
    public TimeSpan MaxLateness { get; init; } = LatenessRule.Default;

    /// <summary>Most ids remembered (default 16 M, about 320 MiB at most).</summary>
    public int DedupMaxEntries { get; init; } = 16_000_000;

    /// <summary>
    /// The CloudEvents mapping (<c>--event-mapping</c>, docs/cloudevents.md), or null: only native records. With one,
    /// the engine also reads CloudEvents in Kafka binary and structured content mode (it then asks librdkafka for the
    /// headers; without one it does not, so native-only topics pay nothing).
    /// </summary>
    public CloudEvents.EventMapping? EventMapping { get; init; }

    /// <summary>
    /// Threads decoding the file pipeline's chunks of lines at once (default: one per core, at most 8: past that the
    /// one aggregating thread is the limit). Any number gives the same output, byte for byte: the chunks are
    /// deduplicated and aggregated in input order.
    /// </summary>
    public int DecodeThreads { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, 8);
}
