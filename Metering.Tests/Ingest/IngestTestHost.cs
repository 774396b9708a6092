using System.Net.Http.Headers;
using Confluent.Kafka;
using Metering.Web.Api;
using Metering.Web.HttpIngest;
using Metering.Tests.Api;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Npgsql;

namespace Metering.Tests.Ingest;

/// <summary>
/// The API on a TestServer with HTTP ingest into a real (embedded) Kafka topic. The ingest endpoint never touches
/// PostgreSQL, so the data source points nowhere and is never opened.
/// </summary>
internal sealed class IngestTestHost : IAsyncDisposable
{
    private IngestTestHost(WebApplication app, NpgsqlDataSource db, HttpIngestService service)
    {
        App = app;
        Db = db;
        Service = service;
    }

    public WebApplication App { get; }

    public NpgsqlDataSource Db { get; }

    public HttpIngestService Service { get; }

    public static async Task<IngestTestHost> StartAsync(HttpIngestService service, Metering.Ingest.CloudEvents.EventMapping? eventMapping = null)
    {
        var db = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Database=unused;Username=unused");
        var options = new ApiOptions { JwtIssuer = ApiTestHost.Issuer, JwtAudience = ApiTestHost.Audience, JwtSigningKey = ApiTestHost.Key, HttpIngest = service, EventMapping = eventMapping };
        var app = ApiHost.Build(options, db, new InMemoryUsageStore(), b => b.WebHost.UseTestServer());
        await app.StartAsync();
        return new IngestTestHost(app, db, service);
    }

    public HttpClient Bearer(string scopes, string? account = null)
    {
        var client = App.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiTestHost.Token(scopes, account));
        return client;
    }

    public HttpClient ApiKey(string key, bool header = false)
    {
        var client = App.GetTestClient();
        if (header)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", key);
        }
        else
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("ApiKey", key);
        }

        return client;
    }

    public HttpClient Anonymous() => App.GetTestClient();

    public static HttpContent Ndjson(string body) => new StringContent(body, System.Text.Encoding.UTF8, "application/x-ndjson");

    public static HttpContent JsonArray(string body) => new StringContent(body, System.Text.Encoding.UTF8, "application/json");

    /// <summary>Every message of <paramref name="topic"/> from the start, until <paramref name="count"/> arrived and a quiet second passed.</summary>
    public static List<ConsumeResult<string, string>> ConsumeAll(string bootstrap, string topic, int partitions, int count, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "ingest-test-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var results = new List<ConsumeResult<string, string>>();
        var deadline = DateTime.UtcNow + timeout;
        var quietUntil = DateTime.MaxValue;
        while (DateTime.UtcNow < deadline && DateTime.UtcNow < quietUntil)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r is { IsPartitionEOF: false, Message: not null })
            {
                results.Add(r);
            }

            if (results.Count >= count && quietUntil == DateTime.MaxValue)
            {
                quietUntil = DateTime.UtcNow.AddSeconds(1); // anything beyond the expected would show up here
            }
        }

        consumer.Close();
        return results;
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await Db.DisposeAsync();
    }
}
