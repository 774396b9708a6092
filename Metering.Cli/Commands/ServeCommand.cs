using System.Runtime.InteropServices;
using Confluent.Kafka;
using Metering.Analytics;
using Metering.Cli.Arguments;
using Metering.Cli.Hosting;
using Metering.Ledger.Accounts;
using Metering.Ingest.Kafka;
using Metering.Web.Api;
using Metering.Rating.Periods;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Metering.Cli.Commands;

/// <summary><c>metering serve</c>: the REST API over the ledger, price books and usage analytics (docs/api.md).</summary>
public sealed class ServeCommand : ICliCommand
{
    public IReadOnlyList<string> Name { get; } = ["serve"];

    public string Summary => "serve the REST API (usage, billing periods, price books, period close) with JWT auth, OpenAPI and /metrics";

    public string Usage => "usage: metering serve --jwt-issuer ISS --jwt-audience AUD (--jwt-key-file FILE | --jwt-key KEY) [options]\n\n" +
        "  --listen URL               where to listen (default http://127.0.0.1:8080)\n" +
        "  --port N                   listen on http://0.0.0.0:N instead (containers; --listen wins)\n" +
        "  --jwt-issuer ISS           required token issuer\n" +
        "  --jwt-audience AUD         required token audience\n" +
        "  --jwt-key-file FILE        HS256 signing key file: base64:... text or raw bytes, at least 32 bytes\n" +
        "  --jwt-key KEY              the key inline instead: its UTF-8 bytes, or base64:... for binary (at least 32 bytes)\n" +
        "  --jwks FILE|URL            also accept RS256/ES256 tokens signed by a key of this JWKS document (an identity\n" +
        "                             provider's jwks_uri, or a file), read again every --jwks-refresh (default 5m)\n" +
        "  --oidc-issuer URL          the console signs in through this OpenID Connect provider (authorization code +\n" +
        "                             PKCE S256, a public client): its discovery document is read at start, its jwks_uri\n" +
        "                             verifies tokens unless --jwks is given, and its issuer is accepted beside --jwt-issuer\n" +
        "  --oidc-client-id ID        the console's client id at the provider (required with --oidc-issuer)\n" +
        "  --oidc-scopes \"S ...\"      scopes asked for (default \"openid\"; openid is always asked)\n" +
        "  --oidc-redirect-uri URL    the callback registered at the provider (default: this server's /console/callback\n" +
        "                             on the address the browser uses; set it behind a proxy)\n" +
        "  --oidc-name NAME           the button's \"Sign in with NAME\" (default: the issuer's host)\n" +
        "  --bootstrap-servers HOSTS  Kafka checked by /readyz and written by POST /v1/events (default: none, not_configured)\n" +
        LedgerArguments.RegistryUsage +
        "  --event-mapping FILE       POST /v1/events also takes CloudEvents (application/cloudevents+json, -batch+json),\n" +
        "                             mapped to usage records by FILE (docs/cloudevents.md)\n" +
        "  --rate-limit N             requests/s per credential (API key id or JWT subject), token bucket (default 1000;\n" +
        "                             0 = none); more: 429 with Retry-After\n" +
        "  --rate-limit-burst N       burst of that bucket (default 2 x --rate-limit)\n" +
        "  --anonymous-rate-limit N   requests/s per remote address without a valid credential (default 100, burst 2x;\n" +
        "                             0 = none); /healthz, /readyz and /metrics are never limited\n" +
        "  --max-connections N        open connections (default 4096)\n" +
        "  --min-body-rate BYTES      slowest request body, bytes/s after --body-grace (default 1024; slower: 408)\n" +
        "  --body-grace DURATION      how long a body may start slowly (default 5s, more than 1s)\n" +
        "  --max-header-bytes N       request line + headers (default 32768; more: 431)\n" +
        "  --headers-timeout DURATION time to receive the headers (default 10s)\n" +
        CorrectionArguments.Usage +
        LedgerArguments.Usage + "\n" + AnalyticsArguments.Usage + "\n" + HttpIngestArguments.Usage + KafkaArguments.Usage +
        "  --export, --no-export      run the analytics export (outbox -> ClickHouse) inside serve, every --export-interval\n" +
        "                             (default: on with --clickhouse-dir, whose embedded chDB only this process may open;\n" +
        "                             off with --clickhouse-url, where `metering export --follow` runs beside it)\n" +
        "  --export-interval DURATION pause between export passes (default 5s)\n" +
        "\n/v1/usage reads ClickHouse only when --clickhouse-url or --clickhouse-dir is given (an embedded chDB directory\n" +
        "belongs to one process: serve exports into it itself); without either it answers 503.\n" +
        "\nEvery option falls back to METERING_<NAME> (e.g. METERING_JWT_KEY, METERING_PORT).\n" +
        "Anonymous: /healthz, /readyz, /metrics. Everything else needs a bearer token (docs/api.md).";

    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        try
        {
            return await RunCoreAsync(args, cancellationToken).ConfigureAwait(false);
        }
        catch (ClickHouseException e)
        {
            Console.Error.WriteLine($"metering serve: {e.Message}");
            return 1;
        }
    }

    /// <summary>A busy or unusable <c>--listen</c> address is a one-line usage error before anything starts.</summary>
    private static void EnsureListenAddressFree(string listen)
    {
        if (!Uri.TryCreate(listen, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new CliUsageException($"--listen must be an http:// or https:// URL such as http://127.0.0.1:8080, got '{listen}'", showUsage: false);
        }

        if (uri.Port == 0)
        {
            return; // any free port
        }

        var address = uri.Host is "0.0.0.0" or "*" or "+" ? System.Net.IPAddress.Any
            : System.Net.IPAddress.TryParse(uri.Host, out var parsed) ? parsed : System.Net.IPAddress.Loopback;
        var probe = new System.Net.Sockets.TcpListener(address, uri.Port);
        try
        {
            probe.Start();
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new CliUsageException($"--listen {listen}: {e.Message} (is another server on port {uri.Port}?)", showUsage: false);
        }
        finally
        {
            probe.Stop();
        }
    }

    private static async Task<int> RunCoreAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var port = args.Int64("port", 0, 1, 65535);
        var listen = args.String("listen") ?? (port > 0 ? $"http://0.0.0.0:{port}" : "http://127.0.0.1:8080");
        var issuer = args.Required("jwt-issuer");
        var audience = args.Required("jwt-audience");
        var key = await SigningKey(args.String("jwt-key-file"), args.String("jwt-key"), cancellationToken).ConfigureAwait(false);
        var bootstrap = args.String("bootstrap-servers");
        var priceFiles = LedgerArguments.PriceFiles(args);
        var embedded = args.String("clickhouse-url") is null && args.String("clickhouse-dir") is not null;
        var analytics = args.String("clickhouse-url") is not null || embedded;
        if (args.Has("export") && args.Has("no-export"))
        {
            throw new CliUsageException("give --export or --no-export, not both");
        }

        var export = args.Has("export") || (embedded && !args.Has("no-export"));
        if (export && !analytics)
        {
            throw new CliUsageException("--export needs a ClickHouse target: --clickhouse-dir DIR (embedded) or --clickhouse-url URL");
        }

        var exportInterval = args.Duration("export-interval", TimeSpan.FromSeconds(5));
        if (exportInterval <= TimeSpan.Zero)
        {
            throw new CliUsageException("--export-interval must be positive");
        }
        var kafkaSecurity = KafkaArguments.Security(args);
        var rateLimit = (int)args.Int64("rate-limit", 1000, 0, 10_000_000);
        var rateBurst = (int)args.Int64("rate-limit-burst", Math.Max(1, 2L * rateLimit), 1, 20_000_000);
        var anonymousRateLimit = (int)args.Int64("anonymous-rate-limit", 100, 0, 10_000_000);
        var maxConnections = args.Int64("max-connections", 4096, 1, 10_000_000);
        var minBodyRate = args.Int64("min-body-rate", 1024, 1, 1L << 30);
        var bodyGrace = args.Duration("body-grace", TimeSpan.FromSeconds(5));
        if (bodyGrace <= TimeSpan.FromSeconds(1))
        {
            throw new CliUsageException("--body-grace must be more than 1s (Kestrel checks body rates once a second)");
        }

        var maxHeaderBytes = (int)args.Int64("max-header-bytes", 32 * 1024, 1024, 1 << 20);
        var headersTimeout = args.Duration("headers-timeout", TimeSpan.FromSeconds(10));
        var correctionHorizon = CorrectionArguments.Horizon(args);
        var jwksLocation = args.String("jwks");
        var oidcSettings = OidcOptions(args);
        var jwksRefresh = args.Duration("jwks-refresh", TimeSpan.FromMinutes(5));
        if (jwksRefresh < TimeSpan.FromSeconds(1))
        {
            throw new CliUsageException("--jwks-refresh must be at least 1s");
        }

        if (headersTimeout < TimeSpan.FromSeconds(1))
        {
            throw new CliUsageException("--headers-timeout must be at least 1s");
        }

        // Every option is read and checked, and the listen address is known to be free, before anything starts:
        // a typo or a busy port is one line, not a PostgreSQL started for nothing and a hosting stack trace.
        var eventMapping = PipelineArguments.EventMapping(args);
        args.RejectUnknown([.. LedgerArguments.Options, .. AnalyticsArguments.Options, .. RedisArguments.Options, .. HttpIngestArguments.Options]);
        EnsureListenAddressFree(listen);
        // Read before PostgreSQL starts: an unreadable document is one line, like a bad option.
        OidcProvider? oidc;
        try
        {
            oidc = oidcSettings is null ? null : await OidcProvider.DiscoverAsync(oidcSettings, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw new CliUsageException($"--oidc-issuer {oidcSettings!.IssuerText}: {e.Message}", showUsage: false);
        }

        using var oidcProvider = oidc;
        // Without --jwks the provider's own keys verify its tokens.
        var jwksFrom = jwksLocation ?? oidc?.JwksUri.OriginalString;
        JwksKeySource? jwks;
        try
        {
            jwks = jwksFrom is null ? null : await JwksKeySource.StartAsync(jwksFrom, jwksRefresh, Console.Error, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            throw new CliUsageException(jwksLocation is null ? $"--oidc-issuer {oidcSettings!.IssuerText}: jwks_uri {jwksFrom}: {e.Message}" : $"--jwks {jwksLocation}: {e.Message}", showUsage: false);
        }

        await using var jwksKeys = jwks;
        using var redis = RedisArguments.Connect(args);
        var ingestSettings = HttpIngestArguments.Read(args);
        var accountRefresh = PipelineArguments.AccountRefresh(args);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        // The registry's books, following publishes (the API's own PUT, the CLI, other instances) without a restart.
        await using var prices = await LedgerArguments.RegistrySourceAsync(db, priceFiles, Console.Error, cancellationToken).ConfigureAwait(false);
        // The edge reads the accounts only to refuse unknown ones; with auto the engine creates them.
        await using var accounts = ingestSettings?.Options.UnknownAccounts == Aggregates.Admission.UnknownAccountPolicy.Reject
            ? await AccountDirectory.StartAsync(db, accountRefresh, Console.Error, cancellationToken).ConfigureAwait(false)
            : null;
        using var ingest = ingestSettings is { } settings ? new Metering.Web.HttpIngest.HttpIngestService(settings.Options with { Accounts = accounts, Prices = prices }, redis, settings.Keys) : null;
        using var transport = analytics ? AnalyticsArguments.Transport(args) : null;
        var schema = transport is null ? null : AnalyticsArguments.Schema(args, db);
        IUsageStore store = transport is null ? new UnconfiguredUsageStore() : new ClickHouseUsageStore(transport, schema!);
        var exportHost = export ? new ExportHost(db, transport!, schema!, AnalyticsExporter.DefaultBatchSize, exportInterval, TimeSpan.Zero, 1, Console.Error) : null;
        if (exportHost is not null)
        {
            // The tables first: /readyz checks them, and would answer 503 until the first pass created them.
            await exportHost.Exporter.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        }
        var options = new ApiOptions
        {
            JwtIssuer = issuer,
            JwtAudience = audience,
            JwtSigningKey = key,
            Jwks = jwks,
            Oidc = oidc,
            BillingPeriods = prices.Current?.List?.Periods ?? BillingPeriodRule.CalendarMonth,
            PriceSource = prices,
            KafkaCheck = bootstrap is null ? null : ct => KafkaReachable(bootstrap, kafkaSecurity, ct),
            HttpIngest = ingest,
            EventMapping = eventMapping,
            LiveCounters = redis is null ? null : new Metering.Redis.RedisLiveCounters(redis, "metering:", db),
            RateLimitPerSecond = rateLimit,
            RateLimitBurst = rateBurst,
            AnonymousRateLimitPerSecond = anonymousRateLimit,
            MaxConcurrentConnections = maxConnections,
            MinRequestBodyBytesPerSecond = minBodyRate,
            RequestBodyGracePeriod = bodyGrace,
            MaxRequestHeadersBytes = maxHeaderBytes,
            RequestHeadersTimeout = headersTimeout,
            CorrectionHorizon = correctionHorizon,
        };

        await using var app = ApiHost.Build(options, db, store, b =>
        {
            b.WebHost.UseUrls(listen);
            if (transport is not null)
            {
                // GET /v1/operators/reconcile: a reconcile run on demand against the same ClickHouse.
                b.Services.AddSingleton(new OperatorReconcile((period, ct) => new AnalyticsReconciler(db, transport, schema!).ReconcileAsync(period, ct)));
            }
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        try
        {
            await app.StartAsync(stop.Token).ConfigureAwait(false);
        }
        catch (IOException e) when (!stop.IsCancellationRequested)
        {
            throw new CliUsageException($"--listen {listen}: {e.Message}", showUsage: false);
        }

        Console.Error.WriteLine($"serve: listening on {string.Join(", ", app.Urls)}; usage from {transport?.Description ?? "nowhere (no ClickHouse configured: /v1/usage answers 503)"}{(exportHost is null ? "" : $", exported into it here every {exportInterval.TotalSeconds:0.#}s")}; OpenAPI at /openapi/v1.json, metrics at /metrics");
        // The export runs beside the API on the same chDB session (statements are serialized there) and stops with it.
        var exporting = exportHost is null ? Task.CompletedTask : Task.Run(() => exportHost.RunAsync(stop.Token), CancellationToken.None);
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // SIGTERM or Ctrl-C: stop gracefully below.
        }

        await exporting.ConfigureAwait(false);
        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        Console.Error.WriteLine("serve: stopped");
        return 0;
    }

    /// <summary>The <c>--oidc-*</c> options, checked; null when no provider is configured.</summary>
    private static OidcSettings? OidcOptions(CliArguments args)
    {
        var issuer = args.String("oidc-issuer");
        var clientId = args.String("oidc-client-id");
        var scopes = args.String("oidc-scopes");
        var redirect = args.String("oidc-redirect-uri");
        var name = args.String("oidc-name");
        if (issuer is null)
        {
            if (clientId is not null || scopes is not null || redirect is not null || name is not null)
            {
                throw new CliUsageException("--oidc-client-id, --oidc-scopes, --oidc-redirect-uri and --oidc-name configure a provider: give --oidc-issuer URL too");
            }

            return null;
        }

        if (clientId is null)
        {
            throw new CliUsageException("--oidc-issuer needs --oidc-client-id ID (the console's client id at the provider: a public client, no secret)");
        }

        try
        {
            return OidcSettings.Create(issuer, clientId, scopes, redirect, name);
        }
        catch (ArgumentException e)
        {
            throw new CliUsageException(e.Message);
        }
    }

    /// <summary>The HS256 key from exactly one of --jwt-key-file and --jwt-key: raw bytes, or base64:... decoded (in a file or inline, so a Secret holds text); at least 32 bytes.</summary>
    internal static async Task<byte[]> SigningKey(string? file, string? inline, CancellationToken cancellationToken)
    {
        if (file is not null && inline is not null)
        {
            throw new CliUsageException("give the signing key once: --jwt-key-file or --jwt-key, not both");
        }

        if (file is null && inline is null)
        {
            throw new CliUsageException("a signing key is required: --jwt-key-file FILE or --jwt-key KEY (METERING_JWT_KEY_FILE, METERING_JWT_KEY)");
        }

        string source;
        byte[] key;
        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new CliUsageException($"--jwt-key-file {file}: no such file");
            }

            source = $"--jwt-key-file {file}";
            key = await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            source = "--jwt-key";
            key = System.Text.Encoding.UTF8.GetBytes(inline!);
        }

        // base64:... (a file written with echo, or a Secret holding text) is decoded; anything else is the key's bytes.
        if (key.AsSpan().StartsWith("base64:"u8))
        {
            try
            {
                key = Convert.FromBase64String(System.Text.Encoding.ASCII.GetString(key, 7, key.Length - 7).Trim());
            }
            catch (FormatException)
            {
                throw new CliUsageException($"{source}: the text after base64: is not valid base64");
            }
        }

        return key.Length >= 32 ? key : throw new CliUsageException($"{source}: an HS256 key needs at least 32 bytes, got {key.Length}");
    }

    private static Task<bool> KafkaReachable(string bootstrap, KafkaSecurity security, CancellationToken cancellationToken) => Task.Run(() =>
    {
        using var admin = new AdminClientBuilder(security.Apply(new AdminClientConfig { BootstrapServers = bootstrap, SocketTimeoutMs = 2000 })).Build();
        return admin.GetMetadata(TimeSpan.FromSeconds(2)).Brokers.Count > 0;
    }, cancellationToken);
}
