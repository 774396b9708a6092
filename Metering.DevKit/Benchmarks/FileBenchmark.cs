using System.Diagnostics;
using Metering.Aggregates.Interning;
using Metering.Ingest.Output;
using Metering.Ingest.Pipeline;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// File -> aggregates against decode-only of the same file: rounds alternate the two in one process, each run on a
/// clean heap with a fresh catalog, so both see the same machine; the medians and their ratio are the result.
/// Decode-only is the baseline: the same decoder over the same bytes, without dedup and aggregation.
/// </summary>
public static class FileBenchmark
{
    /// <summary>One round: both rates in records per second, and what the end-to-end run produced.</summary>
    public sealed record Round(double DecodeRecordsPerSecond, double EndToEndRecordsPerSecond, int Keys, string Balance);

    /// <summary>The medians over <see cref="Rounds"/> of <see cref="Records"/> records in <see cref="Bytes"/> bytes.</summary>
    public sealed record Result(string File, long Records, long Bytes, IReadOnlyList<Round> Rounds, double DecodeRecordsPerSecond, double EndToEndRecordsPerSecond)
    {
        /// <summary>Decode-only throughput in MB/s (10^6 bytes), from the median record rate.</summary>
        public double DecodeMegabytesPerSecond => DecodeRecordsPerSecond * Bytes / Records / 1e6;

        /// <summary>End-to-end throughput in MB/s (10^6 bytes), from the median record rate.</summary>
        public double EndToEndMegabytesPerSecond => EndToEndRecordsPerSecond * Bytes / Records / 1e6;

        /// <summary>End-to-end over decode-only: the share of the decoder's speed the whole pipeline keeps.</summary>
        public double Ratio => EndToEndRecordsPerSecond / DecodeRecordsPerSecond;
    }

    /// <summary>Runs <paramref name="rounds"/> alternating rounds over <paramref name="file"/>; one line per round on <paramref name="progress"/>.</summary>
    public static async Task<Result> RunAsync(string file, AggregationPipelineOptions options, int rounds, TextWriter progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(progress);
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        var bytes = new FileInfo(file).Length;
        var results = new List<Round>();
        long read = 0;
        for (var round = 1; round <= rounds; round++)
        {
            Measurement.CleanHeap();
            var clock = Stopwatch.StartNew();
            await using (var source = Open(file))
            {
                read = (await AggregationPipeline.DecodeOnlyAsync(source, new RecordCatalog(), options.Decoder, cancellationToken).ConfigureAwait(false)).Read;
            }

            var decodeRate = read / clock.Elapsed.TotalSeconds;
            PipelineResult result;
            Measurement.CleanHeap();
            await using (var source = Open(file))
            using (var deadLetters = new DeadLetterWriter(null))
            {
                result = await new AggregationPipeline(options, new RecordCatalog(), deadLetters).RunAsync(source, cancellationToken).ConfigureAwait(false);
            }

            var done = new Round(decodeRate, result.RecordsPerSecond, result.Rows.Count, result.Balance());
            results.Add(done);
            progress.WriteLine($"bench round {round}/{rounds}: decode-only {done.DecodeRecordsPerSecond:N0} records/s, end-to-end {done.EndToEndRecordsPerSecond:N0} records/s ({done.Keys:N0} keys, {done.Balance})");
        }

        return new Result(file, read, bytes, results,
            Measurement.Median(results.Select(r => r.DecodeRecordsPerSecond)), Measurement.Median(results.Select(r => r.EndToEndRecordsPerSecond)));
    }

    private static FileStream Open(string file) =>
        new(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan | FileOptions.Asynchronous);
}
