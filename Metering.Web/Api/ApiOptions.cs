using Metering.Rating.Periods;
using Metering.Rating.PriceBooks;

namespace Metering.Web.Api;

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

    /// <summary>How far back a correction may void or amend an event (default 62 days; <c>--correction-horizon</c>).</summary>
    public Metering.Ledger.Corrections.CorrectionHorizon CorrectionHorizon { get; init; } = Metering.Ledger.Corrections.CorrectionHorizon.Default;

    private readonly PriceCatalog? _prices;

    /// <summary>
    /// The price books the API rates with: <see cref="PriceSource"/>'s current catalog when it is set (the registry's,
    /// following publishes), else the fixed catalog given here; when set, the invoice preview of an open period also
    /// shows recurring fees and the minimum-commitment true-up. Read it once per request.
    /// </summary>
    public PriceCatalog? Prices { get => PriceSource is { } source ? source.Current : _prices; init => _prices = value; }

    /// <summary>The registry's catalog as it follows publishes (<c>metering serve</c>); null: <see cref="Prices"/> is fixed.</summary>
    public Metering.Ledger.PriceBooks.PriceCatalogSource? PriceSource { get; init; }

    /// <summary>RS256/ES256 keys of an identity provider (<c>--jwks</c>), accepted beside the HS256 key; null: HS256 only.</summary>
    public JwksKeySource? Jwks { get; init; }

    /// <summary>
    /// The OpenID Connect provider the console signs in through (<c>--oidc-issuer</c>); null: paste-a-token only. Its
    /// issuer is accepted beside <see cref="JwtIssuer"/>, for tokens verified by <see cref="Jwks"/> only (docs/api.md).
    /// </summary>
    public OidcProvider? Oidc { get; init; }

    /// <summary><c>POST /v1/events</c> (HTTP ingest into Kafka); null: the endpoint answers 503.</summary>
    public Metering.Web.HttpIngest.HttpIngestService? HttpIngest { get; init; }

    /// <summary>The CloudEvents mapping of <c>POST /v1/events</c> (<c>--event-mapping</c>); null: CloudEvents are refused with 415 (docs/cloudevents.md).</summary>
    public Metering.Ingest.CloudEvents.EventMapping? EventMapping { get; init; }

    /// <summary>Redis live counters read by <c>/v1/accounts/{account}/usage/live</c>; null = answer from PostgreSQL.</summary>
    public Metering.Redis.RedisLiveCounters? LiveCounters { get; init; }

    /// <summary>Time a readiness check may take before it counts as failed (default 2 s).</summary>
    public TimeSpan ReadinessTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Kestrel: most open connections (default 4096; null = unbounded); more are refused at accept.</summary>
    public long? MaxConcurrentConnections { get; init; } = 4096;

    /// <summary>Kestrel: a request body slower than this, after <see cref="RequestBodyGracePeriod"/>, is answered 408 (default 1024 bytes/s).</summary>
    public double MinRequestBodyBytesPerSecond { get; init; } = 1024;

    /// <summary>Kestrel: how long a body may start slowly before <see cref="MinRequestBodyBytesPerSecond"/> applies (default 5 s; more than 1 s).</summary>
    public TimeSpan RequestBodyGracePeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Kestrel: largest request line plus headers in bytes (default 32 KiB; more: 431).</summary>
    public int MaxRequestHeadersBytes { get; init; } = 32 * 1024;

    /// <summary>Kestrel: time to receive a request's headers (default 10 s; slower: the connection is closed, 408).</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Requests per second per credential (API key id or JWT subject), a token bucket (default 1000; 0 = no limit); more: 429.</summary>
    public int RateLimitPerSecond { get; init; } = 1000;

    /// <summary>The period the rate limits count in (default 1 s: the limits are per second; tests use longer periods).</summary>
    public TimeSpan RateLimitPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Burst of the per-credential token bucket (default 2000).</summary>
    public int RateLimitBurst { get; init; } = 2000;

    /// <summary>Requests per second per remote address without a valid credential (default 100; 0 = no limit; burst twice that); health probes and /metrics are exempt.</summary>
    public int AnonymousRateLimitPerSecond { get; init; } = 100;

    /// <summary>Throws when a limit is out of range, naming it.</summary>
    public void ValidateLimits()
    {
        if (MaxConcurrentConnections is { } connections)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(connections, 1, nameof(MaxConcurrentConnections));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MinRequestBodyBytesPerSecond, 1, nameof(MinRequestBodyBytesPerSecond));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(RequestBodyGracePeriod, TimeSpan.FromSeconds(1), nameof(RequestBodyGracePeriod));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRequestHeadersBytes, 1024, nameof(MaxRequestHeadersBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(RequestHeadersTimeout, TimeSpan.FromSeconds(1), nameof(RequestHeadersTimeout));
        ArgumentOutOfRangeException.ThrowIfNegative(RateLimitPerSecond, nameof(RateLimitPerSecond));
        ArgumentOutOfRangeException.ThrowIfLessThan(RateLimitBurst, RateLimitPerSecond == 0 ? 0 : 1, nameof(RateLimitBurst));
        ArgumentOutOfRangeException.ThrowIfNegative(AnonymousRateLimitPerSecond, nameof(AnonymousRateLimitPerSecond));
        ArgumentOutOfRangeException.ThrowIfLessThan(RateLimitPeriod, TimeSpan.FromMilliseconds(1), nameof(RateLimitPeriod));
    }
}
