using System.Threading.RateLimiting;
using Metering.Analytics;
using Metering.Ledger.PriceBooks;
using Metering.Web.HttpIngest;
using Metering.Web.Observability;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;
using Microsoft.OpenApi;
using Npgsql;

namespace Metering.Web.Api;

/// <summary>
/// Builds the REST API (docs/api.md): minimal-API endpoints, JWT bearer authentication with scopes, RFC 9457 problem
/// details for every error, the OpenAPI document at <c>/openapi/v1.json</c> and Prometheus metrics at <c>/metrics</c>.
/// <c>metering serve</c> and the tests build the app through this one method.
/// </summary>
public static class ApiHost
{
    /// <summary>
    /// Builds (does not start) the API. <paramref name="configure"/> runs before the app is built: <c>metering serve</c>
    /// sets the listen address there, tests swap Kestrel for the TestServer.
    /// </summary>
    public static WebApplication Build(ApiOptions options, NpgsqlDataSource db, IUsageStore usageStore, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(usageStore);
        if (options.JwtSigningKey.Count < 32)
        {
            throw new ArgumentException($"the JWT signing key must be at least 32 bytes for HS256, got {options.JwtSigningKey.Count}", nameof(options));
        }

        options.ValidateLimits();
        if (options.Oidc is not null && options.Jwks is null)
        {
            throw new ArgumentException("an OIDC provider needs its signing keys: set Jwks (serve reads the provider's jwks_uri unless --jwks is given)", nameof(options));
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(ApiHost).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(db);
        services.AddSingleton(usageStore);
        services.AddSingleton<PriceBookStore>();
        services.ConfigureHttpJsonOptions(o => ApiJson.Apply(o.SerializerOptions));
        services.AddProblemDetails();

        // A broken body that escapes an endpoint (Kestrel's BadHttpRequestException: too slow, shorter than its
        // Content-Length) is the client's fault: its own status (408, 400), never a 500.
        services.AddExceptionHandler(o => o.StatusCodeSelector = e => e is Microsoft.AspNetCore.Http.BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status500InternalServerError);
        var ingestOptions = options.HttpIngest?.Options;
        services.AddSingleton(new IngestAdmission(ingestOptions?.MaxConcurrentRequests ?? 1, ingestOptions?.MaxBufferedBytes ?? 0));
        services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http => RateLimitPartitionOf(http, options));
            o.OnRejected = RateLimited;
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxConcurrentConnections = options.MaxConcurrentConnections;
            k.Limits.MinRequestBodyDataRate = new MinDataRate(options.MinRequestBodyBytesPerSecond, options.RequestBodyGracePeriod);
            k.Limits.MaxRequestHeadersTotalSize = options.MaxRequestHeadersBytes;
            k.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
        });
        services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
        {
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = options.JwtIssuer,
                ValidAudience = options.JwtAudience,
                IssuerSigningKey = new SymmetricSecurityKey([.. options.JwtSigningKey]),
                ValidAlgorithms = options.Jwks is null ? [SecurityAlgorithms.HmacSha256] : [SecurityAlgorithms.HmacSha256, SecurityAlgorithms.RsaSha256, SecurityAlgorithms.EcdsaSha256],
                ValidateIssuer = true,
                ValidateAudience = true,
                ValidateLifetime = true,
                ValidateIssuerSigningKey = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ClockSkew = options.ClockSkew,
            };
            if (options.Jwks is { } jwks)
            {
                // The HS256 key and the provider's current keys; each key verifies only its own algorithm family, so an
                // HS256 token "signed" with a public RSA key is refused.
                var hs256 = o.TokenValidationParameters.IssuerSigningKey;
                var provider = options.Oidc?.Settings.IssuerText;
                o.TokenValidationParameters.IssuerSigningKeyResolver = (_, token, kid, _) =>
                    provider is not null && token.Issuer == provider && provider != options.JwtIssuer ? jwks.Resolve(kid) : [hs256, .. jwks.Resolve(kid)];
                if (provider is not null)
                {
                    // The OIDC provider's tokens name it as issuer; only its keys verify them (above): the HS256 key
                    // cannot mint a token that claims to come from the provider.
                    o.TokenValidationParameters.ValidIssuers = [options.JwtIssuer, provider];
                }
            }
            o.Events = new JwtBearerEvents { OnChallenge = AuthProblems.Challenge, OnForbidden = AuthProblems.Forbidden };
        }).AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(ApiScopes.UsageRead, p => p.RequireAuthenticatedUser().RequireAssertion(c => ApiScopes.Has(c.User, ApiScopes.UsageRead)))
            .AddPolicy(ApiScopes.BillingRead, p => p.RequireAuthenticatedUser().RequireAssertion(c => ApiScopes.Has(c.User, ApiScopes.BillingRead)))
            .AddPolicy(ApiScopes.PriceBooksWrite, p => p.RequireAuthenticatedUser().RequireAssertion(c => ApiScopes.Has(c.User, ApiScopes.PriceBooksWrite)))
            .AddPolicy(ApiScopes.IngestWrite, p => p.AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName, JwtBearerDefaults.AuthenticationScheme).RequireAuthenticatedUser().RequireAssertion(c => ApiScopes.Has(c.User, ApiScopes.IngestWrite)))
            .AddPolicy(ApiScopes.Admin, p => p.RequireAuthenticatedUser().RequireAssertion(c => ApiScopes.Has(c.User, ApiScopes.Admin)))
            .AddPolicy(PriceBookEndpoints.ReadPolicy, p => p.RequireAuthenticatedUser().RequireAssertion(c => ApiScopes.Has(c.User, ApiScopes.BillingRead) || ApiScopes.Has(c.User, ApiScopes.PriceBooksWrite)));
        services.AddOpenApi(o =>
        {
            o.AddOperationTransformer((operation, _, _) =>
            {
                ApiDocumentation.Describe(operation);
                CloudEventDocumentation.Describe(operation);
                return Task.CompletedTask;
            });
            o.AddDocumentTransformer((document, _, _) =>
            {
                // The product's name, not the assembly's that happens to host the endpoints (it moved once already).
                document.Info.Title = "metering | v1";
                DescribeSecurity(document);
                return Task.CompletedTask;
            });
        });
        services.AddMeteringMetrics();

        configure?.Invoke(builder);
        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(CredentialGate.RejectAmbiguousAsync);
        app.UseAuthentication();
        app.Use(CredentialGate.IdentifyAsync);
        app.UseRateLimiter();
        app.UseAuthorization();

        HealthEndpoints.Map(app);
        UsageEndpoints.Map(app);
        PeriodEndpoints.Map(app);
        PriceBookEndpoints.Map(app);
        PeriodCloseEndpoints.Map(app);
        IngestEndpoints.Map(app);
        LiveUsageEndpoints.Map(app);
        QuotaEndpoints.Map(app);
        AccountEndpoints.Map(app);
        CorrectionEndpoints.Map(app);
        StatementEndpoints.Map(app);
        RerateEndpoints.Map(app);
        OperatorEndpoints.Map(app);
        AlertEndpoints.Map(app);
        WebConsole.ConsoleEndpoints.Map(app);
        app.MapOpenApi("/openapi/{documentName}.json");
        app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous().DisableRateLimiting();
        return app;
    }

    // One token bucket per credential (API key id, JWT subject), and a smaller one per remote address for requests
    // without a valid credential. Buckets of idle partitions are dropped by the partitioned limiter.
    private static RateLimitPartition<string> RateLimitPartitionOf(HttpContext http, ApiOptions options)
    {
        var partition = CredentialGate.Partition(http);
        var anonymous = CredentialGate.IsAnonymous(partition);
        var perSecond = anonymous ? options.AnonymousRateLimitPerSecond : options.RateLimitPerSecond;
        if (perSecond == 0)
        {
            return RateLimitPartition.GetNoLimiter(partition);
        }

        var burst = anonymous ? 2 * perSecond : options.RateLimitBurst;
        return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = options.RateLimitPeriod,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    private static async ValueTask RateLimited(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        ApiMetrics.Rejected(ApiMetrics.RateLimited);
        var seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 1;
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var partition = CredentialGate.Partition(http);
        var who = CredentialGate.IsAnonymous(partition) ? "requests without a valid credential from this address" : "this credential";
        await AuthProblems.Write(http, StatusCodes.Status429TooManyRequests, "rate limited", "urn:metering:problem:rate-limited",
            $"{who} sent more requests than the server's rate limit allows; retry after {seconds} s").ConfigureAwait(false);
    }

    // The document names the bearer scheme and the requirement on every operation but the anonymous health checks;
    // servers are dropped so the served document is the same on every host (a test compares it with docs/openapi.json).
    private static void DescribeSecurity(OpenApiDocument document)
    {
        document.Servers = [];
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal);
        document.Components.SecuritySchemes["bearer"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "HS256-signed JWT with iss, aud, exp; scopes in 'scope' (space-separated): usage:read, billing:read, pricebooks:write, ingest:write, admin. An 'account' claim restricts the token to that account.",
        };
        document.Components.SecuritySchemes["apiKey"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = "X-Api-Key",
            Description = "POST /v1/events only: an API key from --api-keys-file, as X-Api-Key: <key> or Authorization: ApiKey <key>.",
        };
        foreach (var (path, item) in document.Paths)
        {
            if (path is "/healthz" or "/readyz" || item.Operations is null)
            {
                continue;
            }

            foreach (var operation in item.Operations.Values)
            {
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", document)] = [] });
                if (path == "/v1/events")
                {
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("apiKey", document)] = [] });
                }
            }
        }
    }
}
