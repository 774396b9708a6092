using System.Security.Cryptography;
using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Aggregates.Records;
using Metering.Cli;
using Metering.DevKit.Workload;
using Metering.Ingest.Output;
using Metering.Ingest.Pipeline;

namespace Metering.UnitTests.EndToEnd;

public sealed class WorkloadAggregationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("metering-e2e-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (MemoryStream Input, GroundTruth Truth) Generate(WorkloadOptions options)
    {
        var stream = new MemoryStream();
        var truth = new SyntheticWorkloadGenerator(options).Generate(stream);
        stream.Position = 0;
        return (stream, truth);
    }

    private static async Task<(PipelineResult Result, RecordCatalog Catalog, DeadLetterWriter DeadLetters)> Aggregate(Stream input, AggregationPipelineOptions options)
    {
        var catalog = new RecordCatalog();
        var deadLetters = new DeadLetterWriter(null);
        var result = await new AggregationPipeline(options, catalog, deadLetters).RunAsync(input);
        return (result, catalog, deadLetters);
    }

    [Fact]
    public async Task Generated_workload_aggregates_exactly_to_its_ground_truth()
    {
        // Enough bad records that every bad kind (including 20 KB oversize lines) appears several times.
        var (input, truth) = Generate(new WorkloadOptions { Records = 150_000, Accounts = 2_000, DuplicateShare = 0.05, BadShare = 0.01 });
        var (result, catalog, deadLetters) = await Aggregate(input, new AggregationPipelineOptions());

        Assert.Empty(GroundTruthCheck.Compare(truth, result, catalog));
        Assert.True(result.IsBalanced);
        Assert.Equal(12, truth.Rejected.Count); // every bad kind was generated
        Assert.Equal(result.Rejected, deadLetters.Total); // every reject reached the dead-letter output
        Assert.True(result.Duplicates > 5_000);
    }

    [Fact]
    public async Task Early_flushes_at_the_key_limit_lose_and_duplicate_nothing()
    {
        var (input, truth) = Generate(new WorkloadOptions { Records = 60_000, Accounts = 5_000 });
        var options = new AggregationPipelineOptions { Aggregator = new AggregatorOptions { KeyLimit = 500, OnKeyLimit = KeyLimitPolicy.FlushEarly } };
        var (result, catalog, _) = await Aggregate(input, options);

        Assert.True(result.EarlyFlushes > 10, $"expected many early flushes, got {result.EarlyFlushes}");
        Assert.Empty(GroundTruthCheck.Compare(truth, result, catalog));
    }

    [Fact]
    public async Task Reject_policy_dead_letters_records_past_the_key_limit_and_keeps_the_balance()
    {
        var (input, truth) = Generate(new WorkloadOptions { Records = 20_000, Accounts = 5_000, BadShare = 0 });
        var options = new AggregationPipelineOptions { Aggregator = new AggregatorOptions { KeyLimit = 300, OnKeyLimit = KeyLimitPolicy.Reject } };
        var (result, _, deadLetters) = await Aggregate(input, options);

        var keyLimitRejects = result.RejectedByReason[(int)RejectReason.AggregateKeyLimit];
        Assert.True(keyLimitRejects > 0);
        Assert.Equal(keyLimitRejects, deadLetters.ByReason[(int)RejectReason.AggregateKeyLimit]);
        Assert.Equal(truth.Accepted, result.Accepted + keyLimitRejects);
        Assert.True(result.IsBalanced);
        Assert.Equal(300, result.Rows.Count);
    }

    [Fact]
    public async Task Replaying_the_same_input_twice_counts_every_record_once()
    {
        var (input, truth) = Generate(new WorkloadOptions { Records = 30_000, BadShare = 0 });
        var twice = new MemoryStream();
        input.CopyTo(twice);
        input.Position = 0;
        input.CopyTo(twice);
        twice.Position = 0;
        var (result, catalog, _) = await Aggregate(twice, new AggregationPipelineOptions());

        Assert.Equal(truth.Read * 2, result.Read);
        Assert.Equal(truth.Accepted, result.Accepted);
        Assert.Equal(truth.Duplicates + truth.Read, result.Duplicates);
        var totals = GroundTruthCheck.TotalsBySku(result.Rows, catalog).ToDictionary(t => t.Sku, t => t.Nanos);
        foreach (var g in truth.Totals.GroupBy(t => t.Sku))
        {
            Assert.Equal(g.Aggregate(Int128.Zero, (s, t) => s + FixedPoint.ParseSum(t.Quantity)), totals[g.Key]);
        }
    }

    [Fact]
    public void Same_seed_gives_identical_bytes_and_another_seed_does_not()
    {
        var a = Generate(new WorkloadOptions { Records = 5_000, Seed = 3 }).Input.ToArray();
        var b = Generate(new WorkloadOptions { Records = 5_000, Seed = 3 }).Input.ToArray();
        var c = Generate(new WorkloadOptions { Records = 5_000, Seed = 4 }).Input.ToArray();
        Assert.Equal(SHA256.HashData(a), SHA256.HashData(b));
        Assert.NotEqual(SHA256.HashData(a), SHA256.HashData(c));
    }

    [Fact]
    public async Task Aggregate_command_matches_the_truth_file_and_fails_on_a_tampered_one()
    {
        var input = Path.Combine(_dir, "usage.ndjson");
        Assert.Equal(0, await Run("generate", "--records", "20000", "--output", input));
        Assert.Equal(0, await Run("aggregate", "--input", input, "--truth", input + ".truth.json"));
        Assert.True(File.Exists(input + ".aggregates.ndjson"));
        Assert.True(new FileInfo(input + ".dead-letters.ndjson").Length > 0);

        var truth = GroundTruth.Load(input + ".truth.json");
        truth.Totals[0].Quantity = FixedPoint.Format(FixedPoint.ParseSum(truth.Totals[0].Quantity) + 1); // one nano-unit off
        truth.Save(input + ".tampered.json");
        Assert.Equal(1, await Run("aggregate", "--input", input, "--truth", input + ".tampered.json"));
    }

    [Fact]
    public async Task Aggregate_command_rejects_unknown_options_with_exit_code_2()
    {
        Assert.Equal(2, await Run("aggregate", "--input", "x.ndjson", "--windw", "1m"));
        Assert.Equal(2, await Run("aggregate", "--input", "x.ndjson", "--window", "7s"));
    }

    private static Task<int> Run(params string[] args) =>
        Program.RunAsync(args, TextWriter.Null, TextWriter.Null, CancellationToken.None);
}
