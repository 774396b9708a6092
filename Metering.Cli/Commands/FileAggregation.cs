using Metering.Aggregates.Aggregation;
using Metering.Aggregates.Interning;
using Metering.Ingest.Output;

using Metering.Ingest.Pipeline;

namespace Metering.Cli.Commands;

/// <summary>File-level plumbing shared by the commands: input file (or stdin) -> pipeline -> dead-letter and aggregate files.</summary>
public static class FileAggregation
{
    /// <summary>Aggregates <paramref name="input"/> ('-' = stdin) accepting every SKU, writing dead letters to <paramref name="deadLetterPath"/>.</summary>
    public static Task<PipelineResult> RunAsync(string input, string deadLetterPath, AggregationPipelineOptions options, RecordCatalog catalog, CancellationToken cancellationToken) =>
        RunAsync(input, deadLetterPath, options, catalog, null, cancellationToken);

    /// <summary>Aggregates <paramref name="input"/> ('-' = stdin; <paramref name="knownSkus"/> for --unknown-sku reject), writing dead letters to <paramref name="deadLetterPath"/>, with progress on stderr.</summary>
    public static async Task<PipelineResult> RunAsync(string input, string deadLetterPath, AggregationPipelineOptions options, RecordCatalog catalog, IReadOnlySet<string>? knownSkus, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(input);
        using var deadLetterStream = new FileStream(deadLetterPath, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        using var deadLetters = new DeadLetterWriter(deadLetterStream);
        using var source = input == "-" ? Console.OpenStandardInput() : new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        var pipeline = new AggregationPipeline(options, catalog, deadLetters) { KnownSkus = knownSkus };
        using (new ProgressReporter("aggregate", () => pipeline.ReadSoFar))
        {
            return await pipeline.RunAsync(source, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Writes the result's aggregates as NDJSON to <paramref name="output"/> ('-' = stdout).</summary>
    public static void WriteAggregates(string output, PipelineResult result, RecordCatalog catalog, AggregationPipelineOptions options)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(options);
        using var sink = output == "-" ? Console.OpenStandardOutput() : new FileStream(output, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        AggregateNdjsonWriter.Write(sink, result.Rows, catalog, new TumblingWindows(options.Aggregator.WindowLength));
    }
}
