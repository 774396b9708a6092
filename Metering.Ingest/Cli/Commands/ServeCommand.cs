using System.Runtime.InteropServices;
using Confluent.Kafka;
using Metering.Ingest.Api;
using Metering.Rating.Periods;
using Microsoft.AspNetCore.Hosting;

namespace Metering.Ingest.Cli.Commands;

/// <summary><c>metering serve</c>: the REST API over the ledger, price books and usage analytics (docs/api.md).</summary>
public sealed class ServeCommand : ICliCommand
{
    /// <inheritdoc />
    public IReadOnlyList<string> Name { get; } = ["serve"];

    /// <inheritdoc />
    public string Summary => "serve the REST API (usage, billing periods, price books, period close) with JWT auth, OpenAPI and /metrics";

    /// <inheritdoc />
    public string Usage => "usage: metering serve --jwt-issuer ISS --jwt-audience AUD --jwt-key-file FILE [options]\n\n" +
        "  --listen URL               where to listen (default http://127.0.0.1:8080)\n" +
        "  --jwt-issuer ISS           required token issuer (env METERING_JWT_ISSUER)\n" +
        "  --jwt-audience AUD         required token audience (env METERING_JWT_AUDIENCE)\n" +
        "  --jwt-key-file FILE        HS256 signing key: the file's bytes, at least 32 (env METERING_JWT_KEY_FILE)\n" +
        "  --bootstrap-servers HOSTS  Kafka checked by /readyz (default: none, reported not_configured)\n" +
        "  --pricebook FILE           list price book whose billing periods closing uses (default examples/pricebooks/list.json)\n" +
        LedgerArguments.Usage +
        "\nAnonymous: /healthz, /readyz, /metrics. Everything else needs a bearer token (docs/api.md).";

    /// <inheritdoc />
    public async Task<int> RunAsync(CliArguments args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        var listen = args.String("listen", "http://127.0.0.1:8080")!;
        var issuer = args.String("jwt-issuer") ?? Environment.GetEnvironmentVariable("METERING_JWT_ISSUER") ?? throw new CliUsageException("--jwt-issuer (or METERING_JWT_ISSUER) is required");
        var audience = args.String("jwt-audience") ?? Environment.GetEnvironmentVariable("METERING_JWT_AUDIENCE") ?? throw new CliUsageException("--jwt-audience (or METERING_JWT_AUDIENCE) is required");
        var keyFile = args.String("jwt-key-file") ?? Environment.GetEnvironmentVariable("METERING_JWT_KEY_FILE") ?? throw new CliUsageException("--jwt-key-file (or METERING_JWT_KEY_FILE) is required");
        var bootstrap = args.String("bootstrap-servers");
        if (!File.Exists(keyFile))
        {
            throw new CliUsageException($"--jwt-key-file {keyFile}: no such file");
        }

        var key = await File.ReadAllBytesAsync(keyFile, cancellationToken).ConfigureAwait(false);
        if (key.Length < 32)
        {
            throw new CliUsageException($"--jwt-key-file {keyFile}: an HS256 key needs at least 32 bytes, the file has {key.Length}");
        }

        var prices = LedgerArguments.Prices(args);
        await using var db = await LedgerArguments.OpenAsync(args, cancellationToken).ConfigureAwait(false);
        args.RejectUnknown();
        var options = new ApiOptions
        {
            JwtIssuer = issuer,
            JwtAudience = audience,
            JwtSigningKey = key,
            BillingPeriods = prices?.List?.Periods ?? BillingPeriodRule.CalendarMonth,
            KafkaCheck = bootstrap is null ? null : ct => KafkaReachable(bootstrap, ct),
        };

        // The ClickHouse usage store is wired here when it lands; until then /v1/usage answers 503.
        await using var app = ApiHost.Build(options, db, new UnconfiguredUsageStore(), b => b.WebHost.UseUrls(listen));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        await app.StartAsync(stop.Token).ConfigureAwait(false);
        Console.Error.WriteLine($"serve: listening on {string.Join(", ", app.Urls)}; OpenAPI at /openapi/v1.json, metrics at /metrics");
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // SIGTERM or Ctrl-C: stop gracefully below.
        }

        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        Console.Error.WriteLine("serve: stopped");
        return 0;
    }

    private static Task<bool> KafkaReachable(string bootstrap, CancellationToken cancellationToken) => Task.Run(() =>
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap, SocketTimeoutMs = 2000 }).Build();
        return admin.GetMetadata(TimeSpan.FromSeconds(2)).Brokers.Count > 0;
    }, cancellationToken);
}
