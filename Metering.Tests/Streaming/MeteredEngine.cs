using System.Text;
using Metering.DevKit.Kafka;
using Metering.DevKit.Workload;
using Metering.Ingest.CloudEvents;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Ledger.PriceBooks;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Streaming;

/// <summary>
/// The set-up the meter tests share: a fresh migrated database with a price book published into its registry and
/// a catalog source following it, a topic on the embedded cluster, and the engine's options (200 ms flushes).
/// </summary>
internal sealed record MeteredEngine(NpgsqlDataSource Db, string ConnectionString, PriceCatalogSource Prices, StreamingOptions Options, EmbeddedKafkaCluster Kafka)
{
    /// <summary>Creates the database and topic and publishes <paramref name="bookJson"/> (whose id is <paramref name="bookId"/>).</summary>
    public static async Task<MeteredEngine> StartAsync(PostgresFixture postgres, EmbeddedKafkaCluster kafka, string topic, string bookId, string bookJson, int partitions = 2, EventMapping? mapping = null)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var db = NpgsqlDataSource.Create(cs);
        kafka.CreateTopic(topic, partitions, 1);
        var options = new StreamingOptions
        {
            BootstrapServers = kafka.BootstrapServers, Topic = topic, FlushInterval = TimeSpan.FromMilliseconds(200),
            Pipeline = new AggregationPipelineOptions { EventMapping = mapping },
        };
        var bytes = Encoding.UTF8.GetBytes(bookJson);
        await PriceBookRegistry.PublishFileAsync(db, PriceBookLoader.Load(bytes, bookId + ".json"), bytes, bookId + ".json", CancellationToken.None);
        var prices = await PriceCatalogSource.OpenAsync(db, bookId, TimeSpan.FromHours(1), null, CancellationToken.None);
        return new MeteredEngine(db, cs, prices, options, kafka);
    }

    /// <summary>Produces NDJSON <paramref name="records"/> into this engine's topic.</summary>
    public Task ProduceAsync(string records) => ProduceAsync(Kafka, Options.Topic, records);

    /// <summary>Produces NDJSON <paramref name="records"/> into <paramref name="topic"/> of <paramref name="kafka"/>.</summary>
    public static Task ProduceAsync(EmbeddedKafkaCluster kafka, string topic, string records) =>
        WorkloadProducer.ProduceAsync(kafka.BootstrapServers, topic, new MemoryStream(Encoding.UTF8.GetBytes(records)), null, CancellationToken.None);
}
