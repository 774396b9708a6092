using Metering.Aggregates.Admission;
using Metering.Aggregates.Decoding;
using Metering.Ingest.Kafka;

namespace Metering.Web.HttpIngest;

/// <summary>Configuration of <c>POST /v1/events</c> (docs/api.md, "Ingesting usage over HTTP").</summary>
public sealed record HttpIngestOptions
{
    /// <summary>Kafka bootstrap servers the usage records are produced to.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>The usage topic (default <c>usage</c>, as the engine's <c>--topic</c>).</summary>
    public string Topic { get; init; } = "usage";

    /// <summary>Kafka security of the producer.</summary>
    public KafkaSecurity Security { get; init; } = KafkaSecurity.Plaintext;

    /// <summary>Largest request body in bytes (default 10 MiB); a larger body is answered 413 and nothing of it is produced.</summary>
    public long MaxBodyBytes { get; init; } = 10L << 20;

    /// <summary>Most records in one request (default 10,000); more is answered 413 and nothing is produced.</summary>
    public int MaxRecords { get; init; } = 10_000;

    /// <summary>
    /// Most records produced and not yet acknowledged by Kafka, over all requests (default 200,000). A request whose
    /// records do not fit is answered 429 with Retry-After: the edge never queues without bound.
    /// Must be at least <see cref="MaxRecords"/>, or a full request could never fit.
    /// </summary>
    public int MaxInflightRecords { get; init; } = 200_000;

    /// <summary>Seconds a 429 asks the client to wait (Retry-After, default 1).</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>How long Kafka may take to acknowledge a record before its receipt says kafka_unavailable (default 15 s).</summary>
    public TimeSpan DeliveryTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long an accepted (account, id) is remembered in Redis (default 24 h, as the engine's --dedup-horizon).</summary>
    public TimeSpan DedupHorizon { get; init; } = TimeSpan.FromHours(24);

    /// <summary>How long a Redis dedup lookup may take before its records count as not seen (default 250 ms); a slow Redis then delays a request by at most this.</summary>
    public TimeSpan DedupLookupTimeout { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Most <c>POST /v1/events</c> requests being read or waiting for Kafka at once (default 256). A request beyond it is
    /// answered 429 with Retry-After before its body is read.
    /// </summary>
    public int MaxConcurrentRequests { get; init; } = 256;

    /// <summary>
    /// Byte budget of the bodies being read or held at once, over all requests (default 128 MiB). A request takes its
    /// Content-Length from it before reading; a chunked body takes 1 MiB at a time as it arrives. When the budget is
    /// spent the request is answered 429 with Retry-After and nothing of it is produced. At least <see cref="MaxBodyBytes"/>.
    /// </summary>
    public long MaxBufferedBytes { get; init; } = 128L << 20;

    /// <summary>Record limits; <see cref="DecoderOptions.MaxLineBytes"/> is the largest record (default 16 KiB).</summary>
    public DecoderOptions Decoder { get; init; } = new();

    /// <summary>What a SKU no price book knows gets; set it as the engine's <c>--unknown-sku</c> (default accept).</summary>
    public UnknownSkuPolicy UnknownSkus { get; init; } = UnknownSkuPolicy.Accept;

    /// <summary>The SKUs the price books know (needed to reject unknown SKUs; also exempts them from the SKU limits).</summary>
    public IReadOnlySet<string>? KnownSkus { get; init; }

    /// <summary>
    /// The price-book registry the engine rates with (<c>serve</c>'s): when it is at a new revision, the SKUs its
    /// catalog knows replace <see cref="KnownSkus"/> from the next request on, for <see cref="UnknownSkus"/> and the SKU
    /// limits alike, as the engine follows it (null: <see cref="KnownSkus"/> stays as given).
    /// </summary>
    public Metering.Ledger.PriceBooks.PriceCatalogSource? Prices { get; init; }

    /// <summary>What an account without a row gets; set it as the engine's <c>--unknown-account</c> (default auto: accepted).</summary>
    public UnknownAccountPolicy UnknownAccounts { get; init; } = UnknownAccountPolicy.Auto;

    /// <summary>The accounts that exist (the ledger's <c>AccountDirectory</c>; needed to reject unknown accounts).</summary>
    public IAccountDirectory? Accounts { get; init; }

    /// <summary>The engine's lateness window (<c>--max-lateness</c>, default 35 days, <see cref="LatenessRule"/>); set it as the engine's.</summary>
    public TimeSpan MaxLateness { get; init; } = LatenessRule.Default;

    /// <summary>
    /// How far the engine may lag behind the edge before an accepted record's time falls out of its lateness window
    /// (default 1 h). The edge refuses, as <c>expired_time</c>, records older than
    /// <see cref="MaxLateness"/> - max future skew - this grace, judged by its own clock (<see cref="LatenessRule.EdgeMaxAge"/>).
    /// </summary>
    public TimeSpan ConsumerLagGrace { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Distinct SKUs unknown to the price books one account may send per UTC day (default 1,000; 0 = no limit).</summary>
    public int MaxSkusPerAccount { get; init; } = 1_000;

    /// <summary>Distinct SKUs unknown to the price books one credential may send per UTC day (default 10,000; 0 = no limit).</summary>
    public int MaxSkusPerCredential { get; init; } = 10_000;

    /// <summary>The admission rules of the edge: the engine's, plus the age limit derived from the horizon.</summary>
    public AdmissionOptions Admission => new()
    {
        Decoder = Decoder,
        UnknownSkus = UnknownSkus,
        KnownSkus = KnownSkus,
        UnknownAccounts = UnknownAccounts,
        Accounts = Accounts,
        MaxAge = LatenessRule.EdgeMaxAge(MaxLateness, Decoder.MaxFutureSkew, ConsumerLagGrace),
    };

    /// <summary>Throws when a limit is out of range, naming it.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(MaxSkusPerAccount, nameof(MaxSkusPerAccount));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxSkusPerCredential, nameof(MaxSkusPerCredential));
        ArgumentOutOfRangeException.ThrowIfLessThan(ConsumerLagGrace, TimeSpan.Zero, nameof(ConsumerLagGrace));
        if (LatenessRule.EdgeMaxAge(MaxLateness, Decoder.MaxFutureSkew, ConsumerLagGrace) <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(ConsumerLagGrace), $"the lateness ({MaxLateness}) must exceed the future skew ({Decoder.MaxFutureSkew}) plus the consumer-lag grace ({ConsumerLagGrace})");
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(BootstrapServers, nameof(BootstrapServers));
        ArgumentException.ThrowIfNullOrWhiteSpace(Topic, nameof(Topic));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBodyBytes, 1024, nameof(MaxBodyBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRecords, 1, nameof(MaxRecords));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxInflightRecords, MaxRecords, nameof(MaxInflightRecords));
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryAfterSeconds, 1, nameof(RetryAfterSeconds));
        ArgumentOutOfRangeException.ThrowIfLessThan(DeliveryTimeout, TimeSpan.FromSeconds(1), nameof(DeliveryTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(DedupLookupTimeout, TimeSpan.FromMilliseconds(1), nameof(DedupLookupTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentRequests, 1, nameof(MaxConcurrentRequests));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBufferedBytes, MaxBodyBytes, nameof(MaxBufferedBytes));
        Decoder.Validate();
    }
}
