using System.Security.Cryptography;
using Metering.DevKit.Kafka;
using Metering.Web.Api;
using Metering.Web.HttpIngest;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Npgsql;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// The HTTP edge (<c>POST /v1/events</c>) started in-process for a load test: the same API host as
/// <c>metering serve</c> on a free loopback port, producing into topic <c>usage</c> of an embedded Kafka broker, with
/// one API key of its own. The number a load test measures against it includes parsing, producing and waiting for acks.
/// </summary>
public sealed class EmbeddedIngestEdge : IAsyncDisposable
{
    private readonly EmbeddedKafkaCluster _cluster;
    private readonly HttpIngestService _service;
    private readonly NpgsqlDataSource _db;
    private readonly WebApplication _app;

    private EmbeddedIngestEdge(EmbeddedKafkaCluster cluster, HttpIngestService service, NpgsqlDataSource db, WebApplication app, string apiKey)
    {
        _cluster = cluster;
        _service = service;
        _db = db;
        _app = app;
        ApiKey = apiKey;
    }

    /// <summary>The API's base address, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Url => _app.Urls.First();

    /// <summary>The one API key the edge accepts (X-Api-Key).</summary>
    public string ApiKey { get; }

    /// <summary>
    /// Starts the broker (<paramref name="partitions"/> partitions) and the API, with request and in-flight limits
    /// sized so that <paramref name="connections"/> concurrent requests of <paramref name="batch"/> records each are
    /// never refused for their size.
    /// </summary>
    public static async Task<EmbeddedIngestEdge> StartAsync(int partitions, int batch, int connections, CancellationToken cancellationToken)
    {
        var cluster = new EmbeddedKafkaCluster(brokers: 1);
        HttpIngestService? service = null;
        NpgsqlDataSource? db = null;
        WebApplication? app = null;
        try
        {
            cluster.CreateTopic("usage", partitions);
            var apiKey = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            var keys = new ApiKeyStore([new ApiKey("loadgen", Convert.FromHexString(ApiKeyStore.Hash(apiKey)), null)]);
            service = new HttpIngestService(new HttpIngestOptions { BootstrapServers = cluster.BootstrapServers, Topic = "usage", MaxRecords = Math.Max(10_000, batch), MaxInflightRecords = Math.Max(200_000, batch * connections) }, null, keys);
            db = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Database=unused;Username=unused"); // the ingest endpoint never opens it
            var options = new ApiOptions { JwtIssuer = "loadgen", JwtAudience = "loadgen", JwtSigningKey = RandomNumberGenerator.GetBytes(32), HttpIngest = service };
            app = ApiHost.Build(options, db, new UnconfiguredUsageStore(), b => b.WebHost.UseUrls("http://127.0.0.1:0"));
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return new EmbeddedIngestEdge(cluster, service, db, app, apiKey);
        }
        catch
        {
            await StopAsync(cluster, service, db, app).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops the API, then the producer, then the broker.</summary>
    public async ValueTask DisposeAsync() => await StopAsync(_cluster, _service, _db, _app).ConfigureAwait(false);

    private static async Task StopAsync(EmbeddedKafkaCluster cluster, HttpIngestService? service, NpgsqlDataSource? db, WebApplication? app)
    {
        if (app is not null)
        {
            await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }

        service?.Dispose();
        if (db is not null)
        {
            await db.DisposeAsync().ConfigureAwait(false);
        }

        cluster.Dispose();
    }
}
