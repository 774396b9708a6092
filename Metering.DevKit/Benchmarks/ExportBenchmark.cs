using System.Diagnostics;
using Metering.Analytics;
using Metering.Ledger.Outbox;
using Npgsql;

namespace Metering.DevKit.Benchmarks;

/// <summary>
/// Outbox -> ClickHouse against ClickHouse's own ingestion of the same rows (issue 16): a ledger holding
/// <c>rows</c> rated windows as the flushes write them (lz4 Arrow blobs of up to 131,072 rows), then, alternating in
/// every round, a whole export pass (<see cref="AnalyticsExporter.ExportOnceAsync"/>: PostgreSQL read, insert,
/// mark) into a fresh ClickHouse database, and <c>INSERT ... SELECT * FROM file(..., ArrowStream)</c> of a file
/// holding exactly the Arrow bytes that pass sent, into another fresh database. The ratio is export rows/s over
/// INSERT ... SELECT rows/s; the table's DDL is outside both clocks.
/// </summary>
public static class ExportBenchmark
{
    /// <summary>One round of both.</summary>
    /// <param name="ExportSeconds">The export pass, wall time.</param>
    /// <param name="Export">Where the pass's time went.</param>
    /// <param name="FileSeconds">ClickHouse's INSERT ... SELECT from the Arrow file, wall time.</param>
    public sealed record Round(double ExportSeconds, ExportResult Export, double FileSeconds);

    /// <summary>What the rounds measured.</summary>
    /// <param name="Rows">Rated windows per round.</param>
    /// <param name="Blobs">Outbox blobs holding them.</param>
    /// <param name="ArrowBytes">Bytes of the Arrow stream (compressed buffers) both sides ingest.</param>
    /// <param name="Rounds">Every round, in order.</param>
    public sealed record Result(long Rows, int Blobs, long ArrowBytes, IReadOnlyList<Round> Rounds)
    {
        /// <summary>Median export rows/s.</summary>
        public double ExportRowsPerSecond => Measurement.Median(Rounds.Select(r => Rows / r.ExportSeconds));

        /// <summary>Median INSERT ... SELECT rows/s.</summary>
        public double FileRowsPerSecond => Measurement.Median(Rounds.Select(r => Rows / r.FileSeconds));

        /// <summary>Median of the per-round ratios export / INSERT ... SELECT.</summary>
        public double Ratio => Measurement.Median(Rounds.Select(r => r.FileSeconds / r.ExportSeconds));
    }

    /// <summary>Seeds <paramref name="rows"/> windows into the empty, migrated ledger <paramref name="db"/> and runs <paramref name="rounds"/> rounds.</summary>
    public static async Task<Result> RunAsync(NpgsqlDataSource db, IAnalyticsTransport transport, string databasePrefix, string workDirectory, int rows, int rounds, TextWriter progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(progress);
        progress.WriteLine($"bench: writing {rows:N0} rated windows into the outbox as the flushes do");
        await SeedAsync(db, rows, cancellationToken).ConfigureAwait(false);
        var blobs = await RatedWindowBlobOutbox.ReadUnexportedAsync(db, 0, long.MaxValue, int.MaxValue, cancellationToken).ConfigureAwait(false);
        var arrow = ArrowStreams.Concatenate([.. blobs.Select(b => (ReadOnlyMemory<byte>)b.Arrow)]);
        Directory.CreateDirectory(workDirectory);
        var file = Path.GetFullPath(Path.Combine(workDirectory, $"export-{rows}.arrow"));
        await File.WriteAllBytesAsync(file, arrow, cancellationToken).ConfigureAwait(false);

        var results = new List<Round>();
        for (var round = 1; round <= rounds; round++)
        {
            await RatedWindowBlobOutbox.MarkAllUnexportedAsync(db, cancellationToken).ConfigureAwait(false);
            var exportSchema = new AnalyticsSchema($"{databasePrefix}_export_{round}");
            var exporter = new AnalyticsExporter(db, transport, exportSchema);
            await exporter.EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
            Measurement.CleanHeap();
            var clock = Stopwatch.StartNew();
            var moved = await exporter.ExportOnceAsync(cancellationToken).ConfigureAwait(false);
            var exportSeconds = clock.Elapsed.TotalSeconds;
            if (moved.Rows != rows)
            {
                throw new InvalidOperationException($"the export pass moved {moved.Rows:N0} rows, expected {rows:N0}");
            }

            var fileSchema = new AnalyticsSchema($"{databasePrefix}_file_{round}");
            foreach (var ddl in fileSchema.CreateStatements())
            {
                await transport.ExecuteAsync(ddl, cancellationToken).ConfigureAwait(false);
            }

            Measurement.CleanHeap();
            clock.Restart();
            await transport.ExecuteAsync($"{fileSchema.InsertHead} SELECT * FROM file('{file.Replace("'", "\\'", StringComparison.Ordinal)}', ArrowStream)", cancellationToken).ConfigureAwait(false);
            var fileSeconds = clock.Elapsed.TotalSeconds;
            var counted = await transport.QueryAsync($"SELECT count() FROM {fileSchema.UsageWindows}", [], cancellationToken).ConfigureAwait(false);
            if (counted[0][0] != rows.ToString(System.Globalization.CultureInfo.InvariantCulture))
            {
                throw new InvalidOperationException($"INSERT ... SELECT from the Arrow file wrote {counted[0][0]} rows, expected {rows:N0}");
            }

            progress.WriteLine($"bench: round {round}: export {rows / exportSeconds:N0} rows/s ({exportSeconds:F2}s: read {moved.Read.TotalSeconds:F2}s, insert {moved.Insert.TotalSeconds:F2}s, mark {moved.Mark.TotalSeconds:F2}s, {moved.Batches} insert(s)); INSERT ... SELECT from the file {rows / fileSeconds:N0} rows/s ({fileSeconds:F2}s)");
            results.Add(new Round(exportSeconds, moved, fileSeconds));
            foreach (var schema in new[] { exportSchema, fileSchema })
            {
                await transport.ExecuteAsync($"DROP DATABASE IF EXISTS {schema.Database}", cancellationToken).ConfigureAwait(false);
            }
        }

        File.Delete(file);
        return new Result(rows, blobs.Count, arrow.Length, results);
    }

    /// <summary>
    /// Rated windows shaped like the main job's: 10,000 accounts, the 8 SKUs of the list book, minute windows over a
    /// day, a region dimension on a third of them, quantities and amounts with 9 decimals; deterministic.
    /// </summary>
    private static async Task SeedAsync(NpgsqlDataSource db, int rows, CancellationToken cancellationToken)
    {
        string[] skus = ["ai.tokens", "cdn.egress.bytes", "cdn.requests", "dns.queries", "images.transforms", "r2.storage.gb_seconds", "stream.minutes", "workers.cpu.ms"];
        string[] dims = ["{}", """{"region": "eu"}""", """{"region": "us"}""", "{}", """{"region": "ap"}""", "{}"];
        var day = new DateTimeOffset(2026, 11, 15, 0, 0, 0, TimeSpan.Zero);
        var period = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        var random = new Random(16);
        await using var connection = await db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await RatedWindowBlobOutbox.WriteAsync(connection, rows, (blob, id, i) =>
        {
            var start = day.AddMinutes(random.Next(1440));
            blob.Append(id, "acct-" + (1 + random.Next(10_000)), skus[random.Next(skus.Length)], start, start.AddMinutes(1), dims[random.Next(dims.Length)],
                random.NextInt64(1, 1_000_000_000_000) / 1_000_000_000m, random.Next(1, 500), random.NextInt64(0, 5_000_000_000) / 1_000_000_000m, "USD",
                "sha256:a343fe8224f6", period);
        }, cancellationToken).ConfigureAwait(false);
    }
}
