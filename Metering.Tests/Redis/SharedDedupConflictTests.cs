using System.Buffers.Binary;
using Metering.Aggregates.Decoding;
using Metering.Aggregates.Dedup;
using Metering.DevKit.Kafka;
using Metering.Ingest.Pipeline;
using Metering.Ingest.Streaming;
using Metering.Ledger.Migrations;
using Metering.Redis;
using Metering.Tests.Storage;
using Metering.Tests.Streaming;
using Metering.UnitTests.Decoding;
using Npgsql;
using StackExchange.Redis;

namespace Metering.Tests.Redis;

/// <summary>The shared Redis horizon keeps each id's payload digest: across instances a re-used id is a conflict, not a duplicate.</summary>
[Collection(PostgresCollection.Name)]
public sealed class SharedDedupConflictTests(PostgresFixture postgres, RedisFixture redis) : IClassFixture<RedisFixture>, IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);
    private static readonly long Ticks = new DateTime(2026, 11, 24, 11, 0, 0, DateTimeKind.Utc).Ticks;
    private readonly EmbeddedKafkaCluster _kafka = new(brokers: 1);

    public void Dispose() => _kafka.Dispose();

    [Fact]
    public async Task A_redis_lookup_answers_duplicate_for_the_same_digest_and_conflict_for_another()
    {
        using var connection = redis.Connect();
        var dedup = new RedisDedup(connection, $"test:{Guid.NewGuid():N}:", TimeSpan.FromHours(1));
        await dedup.MarkAsync([new SeenId(new UInt128(1, 1), 100, Ticks)]);

        SeenId[] ids = [new(new UInt128(1, 1), 100, Ticks), new(new UInt128(1, 1), 200, Ticks), new(new UInt128(2, 2), 100, Ticks)];
        var verdicts = new DedupVerdict[3];
        var first = new ulong[3];
        Assert.True(dedup.TryFindSeen(ids, verdicts, first));
        Assert.Equal([DedupVerdict.Duplicate, DedupVerdict.Conflict, DedupVerdict.New], verdicts);
        Assert.Equal([100UL, 100UL, 0UL], first);
        Assert.Equal([DedupVerdict.Duplicate, DedupVerdict.Conflict, DedupVerdict.New], await dedup.TryFindSeenAsync(ids, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Ids_marked_in_the_old_set_format_are_still_duplicates_and_never_conflicts()
    {
        using var connection = redis.Connect();
        var prefix = $"test:{Guid.NewGuid():N}:";
        var member = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(member, new UInt128(3, 3));
        // What the previous release wrote: a set per event minute holding bare fingerprints.
        await connection.GetDatabase().SetAddAsync($"{prefix}d:{Ticks / TimeSpan.TicksPerMinute}", member);

        var dedup = new RedisDedup(connection, prefix, TimeSpan.FromHours(1));
        Assert.Equal([DedupVerdict.Duplicate], await dedup.TryFindSeenAsync([new SeenId(new UInt128(3, 3), 999, Ticks)], TimeSpan.FromSeconds(5)));
        var without = new RedisDedup(connection, prefix, TimeSpan.FromHours(1), readLegacySets: false);
        Assert.Equal([DedupVerdict.New], await without.TryFindSeenAsync([new SeenId(new UInt128(3, 3), 999, Ticks)], TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task A_second_engine_instance_dead_letters_a_re_used_id_as_conflict_and_drops_the_same_record_as_duplicate()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        using var connection = redis.Connect();
        var prefix = $"test:{Guid.NewGuid():N}:";
        var engines = new List<StreamingEngine>();
        // Two regions (own topic and consumer group, one ledger, one Redis): the first counts e-1 = 1.5, the second
        // then receives e-1 = 2 (another payload), e-1 = 1.50 (the same payload) and e-1 = 2 again.
        foreach (var (region, records) in new[] { ("eu", new[] { StreamingConflictTests.Record("e-1", "1.5") }), ("us", new[] { StreamingConflictTests.Record("e-1", "2"), StreamingConflictTests.Record("e-1", "1.50"), StreamingConflictTests.Record("e-1", "2") }) })
        {
            var topic = $"shared-conflict-{region}";
            _kafka.CreateTopic(topic, 3, 1);
            StreamingConflictTests.Produce(_kafka.BootstrapServers, topic, records);
            var options = new StreamingOptions
            {
                BootstrapServers = _kafka.BootstrapServers, Topic = topic, ConsumerGroup = "metering-" + region, FlushInterval = TimeSpan.FromMilliseconds(200), DeadLetterTopic = "",
                SharedDedup = new RedisDedup(connection, prefix, TimeSpan.FromHours(24)),
                Pipeline = new AggregationPipelineOptions { Decoder = new DecoderOptions { Clock = new MovableClock(Now) } },
            };
            var engine = new StreamingEngine(options, db, null);
            await EngineRuns.RunUntilCommittedAsync(engine, db, options, records.Length);
            engines.Add(engine);
            await Task.Delay(300); // the marks are sent after each commit, asynchronously
            // Each region's balance (the totals are shared by both, so verify's totals check does not apply per region).
            Assert.Equal(region == "eu" ? (0L, 0L) : (1L, 2L), await StreamingConflictTests.BalanceAsync(db, options));
        }

        Assert.Equal(1.5m, await StreamingConflictTests.QuantityAsync(db));
        var letters = await StreamingConflictTests.DeadLettersAsync(db);
        Assert.Equal(2, letters.Count);
        Assert.All(letters, l => Assert.Equal("conflict", l.Reason));
        Assert.All(letters, l => Assert.Contains(ConflictDetail.Text, l.Detail, StringComparison.Ordinal));
        Assert.Contains("the shared dedup horizon", letters[0].Detail, StringComparison.Ordinal);
        Assert.Equal(2, engines[1].Conflicts);
    }
}
