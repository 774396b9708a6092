using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;

namespace Metering.Ingest.Api;

/// <summary>Configuration of the REST API (<c>metering serve</c>, docs/api.md).</summary>
public sealed class ApiOptions
{
    /// <summary>Required <c>iss</c> of bearer tokens.</summary>
    public required string JwtIssuer { get; init; }

    /// <summary>Required <c>aud</c> of bearer tokens.</summary>
    public required string JwtAudience { get; init; }

    /// <summary>HMAC-SHA256 key that signs bearer tokens; at least 32 bytes.</summary>
    public required IReadOnlyList<byte> JwtSigningKey { get; init; }

    /// <summary>Clock skew tolerated on <c>exp</c>/<c>nbf</c> (default 30 s).</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest body accepted by <c>PUT /v1/pricebooks/...</c> (default 1 MiB).</summary>
    public int MaxPriceBookBytes { get; init; } = 1 << 20;

    /// <summary>Kafka readiness check; null when no Kafka is configured (reported as <c>not_configured</c>).</summary>
    public Func<CancellationToken, Task<bool>>? KafkaCheck { get; init; }

    /// <summary>How billing periods are cut, for closing (default calendar months, UTC; <c>metering serve</c> takes the list price book's rule).</summary>
    public BillingPeriodRule BillingPeriods { get; init; } = BillingPeriodRule.CalendarMonth;

    /// <summary>The price books the engine rates with (<c>--pricebook</c>, <c>--contracts</c>); when set, the invoice preview of an open period also shows recurring fees and the minimum-commitment true-up.</summary>
    public PriceCatalog? Prices { get; init; }

    /// <summary><c>POST /v1/events</c> (HTTP ingest into Kafka); null: the endpoint answers 503.</summary>
    public Metering.Ingest.HttpIngest.HttpIngestService? HttpIngest { get; init; }

    /// <summary>Redis live counters read by <c>/v1/accounts/{account}/usage/live</c>; null = answer from PostgreSQL.</summary>
    public Metering.Ingest.Redis.RedisLiveCounters? LiveCounters { get; init; }

    /// <summary>Time a readiness check may take before it counts as failed (default 2 s).</summary>
    public TimeSpan ReadinessTimeout { get; init; } = TimeSpan.FromSeconds(2);
}
