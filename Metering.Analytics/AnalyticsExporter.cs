using System.Diagnostics;
using Metering.Ledger.Outbox;
using Npgsql;

namespace Metering.Analytics;

/// <summary>
/// Moves the PostgreSQL outbox into ClickHouse: the flushes' Arrow blobs (<c>rated_window_blobs</c>), several joined
/// into one Arrow IPC stream per insert as they are stored, and what is left in the row outbox <c>rated_windows</c>
/// of an engine before migration 0021 (encoded to Arrow here); each in id order in bounded batches, then
/// <c>exported_at</c> is set on exactly what was inserted.
/// <para>
/// At least once by construction, exactly once in effect: a crash after the insert and before the mark re-sends the
/// batch (possibly with different neighbours), and ClickHouse collapses the copies because every row carries its
/// outbox id in the ReplacingMergeTree sorting key while every query reads with FINAL (see
/// <see cref="AnalyticsSchema"/>). Rows are selected by <c>exported_at IS NULL</c>, not by a high-water mark, so a
/// transaction that committed a lower id late is still exported. Safe to run several exporters (a row may be sent
/// twice, never counted twice), though one is enough.
/// </para>
/// </summary>
public sealed class AnalyticsExporter
{
    private readonly NpgsqlDataSource _ledger;
    private readonly IAnalyticsTransport _transport;
    private readonly AnalyticsSchema _schema;
    private readonly int _batchSize;
    private bool _schemaReady;

    /// <summary>Default rows per insert: large batches are what ClickHouse inserts fastest (a blob of a flush is up to 131,072).</summary>
    public const int DefaultBatchSize = 500_000;

    /// <summary>Most rows of the row outbox read at once: they are objects in memory, unlike blobs.</summary>
    private const int MaxRowBatch = 50_000;

    /// <summary>
    /// Creates the exporter; <paramref name="batchSize"/> bounds the rows per insert (and memory): whole blobs are
    /// joined while they start within it, so an insert holds at least one blob, and rows of the row outbox go at most
    /// 50,000 at a time.
    /// </summary>
    public AnalyticsExporter(NpgsqlDataSource ledger, IAnalyticsTransport transport, AnalyticsSchema schema, int batchSize = DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(ledger);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, 1_000_000);
        _ledger = ledger;
        _transport = transport;
        _schema = schema;
        _batchSize = batchSize;
    }

    /// <summary>When the last pass of <see cref="RunAsync"/> succeeded (null before the first): readiness of a hosting process.</summary>
    public DateTimeOffset? LastSuccess { get; private set; }

    /// <summary>Why the last pass of <see cref="RunAsync"/> failed, or null when it succeeded (or none ran yet).</summary>
    public string? LastError { get; private set; }

    /// <summary>
    /// Test hook: runs after a batch is in ClickHouse and before PostgreSQL marks it (fault injection), with the
    /// outbox ids it will mark (row ids of the row outbox, or blob ids).
    /// </summary>
    internal Func<IReadOnlyList<long>, CancellationToken, Task>? AfterInsertBeforeMark { get; set; }

    /// <summary>Creates the ClickHouse database and tables if missing (idempotent).</summary>
    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        foreach (var ddl in _schema.CreateStatements())
        {
            await _transport.ExecuteAsync(ddl, cancellationToken).ConfigureAwait(false);
        }

        _schemaReady = true;
    }

    /// <summary>
    /// Exports every rated window that is unexported now (ids up to the current maximum; windows committed meanwhile
    /// wait for the next pass, so a pass always ends): first the row outbox an engine before migration 0021 left
    /// (so an upgrade loses nothing), then the blobs, as many whole blobs per insert as start within the batch size.
    /// Returns what moved.
    /// </summary>
    public async Task<ExportResult> ExportOnceAsync(CancellationToken cancellationToken)
    {
        if (!_schemaReady)
        {
            await EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        }

        var pass = new Pass(Stopwatch.StartNew());
        await ExportRowsAsync(pass, cancellationToken).ConfigureAwait(false);
        await ExportBlobsAsync(pass, cancellationToken).ConfigureAwait(false);
        return new ExportResult(pass.Rows, pass.Batches, pass.Clock.Elapsed, pass.Read, pass.Insert, pass.Mark);
    }

    /// <summary>What a pass moved so far and where its time went.</summary>
    private sealed class Pass(Stopwatch clock)
    {
        public Stopwatch Clock { get; } = clock;

        public long Rows { get; set; }

        public int Batches { get; set; }

        public TimeSpan Read { get; set; }

        public TimeSpan Insert { get; set; }

        public TimeSpan Mark { get; set; }
    }

    /// <summary>The row outbox <c>rated_windows</c>, batch by batch (empty after an upgrade once drained: one index probe).</summary>
    private async Task ExportRowsAsync(Pass pass, CancellationToken cancellationToken)
    {
        var limit = await RatedWindowOutbox.MaxIdAsync(_ledger, cancellationToken).ConfigureAwait(false);
        var batchSize = Math.Min(_batchSize, MaxRowBatch);
        var after = 0L;
        while (true)
        {
            var phase = pass.Clock.Elapsed;
            var batch = await RatedWindowOutbox.ReadUnexportedAsync(_ledger, after, limit, batchSize, cancellationToken).ConfigureAwait(false);
            pass.Read += pass.Clock.Elapsed - phase;
            if (batch.Count == 0)
            {
                return;
            }

            var ids = batch.Select(r => r.Id).ToArray();
            await InsertAndMarkAsync(pass, RatedWindowArrow.Encode(batch), ids, batch.Count, RatedWindowOutbox.MarkExportedAsync, cancellationToken).ConfigureAwait(false);
            after = ids[^1];
            if (batch.Count < batchSize)
            {
                return;
            }
        }
    }

    /// <summary>The blob outbox: whole blobs joined into one Arrow stream per insert, never decoded here.</summary>
    private async Task ExportBlobsAsync(Pass pass, CancellationToken cancellationToken)
    {
        var limit = await RatedWindowBlobOutbox.MaxIdAsync(_ledger, cancellationToken).ConfigureAwait(false);
        var after = 0L;
        while (after < limit)
        {
            var phase = pass.Clock.Elapsed;
            var blobs = await RatedWindowBlobOutbox.ReadUnexportedAsync(_ledger, after, limit, _batchSize, cancellationToken).ConfigureAwait(false);
            pass.Read += pass.Clock.Elapsed - phase;
            if (blobs.Count == 0)
            {
                return;
            }

            var ids = blobs.Select(b => b.Id).ToArray();
            var stream = ArrowStreams.Concatenate([.. blobs.Select(b => (ReadOnlyMemory<byte>)b.Arrow)]);
            await InsertAndMarkAsync(pass, stream, ids, blobs.Sum(b => b.RowCount), RatedWindowBlobOutbox.MarkExportedAsync, cancellationToken).ConfigureAwait(false);
            after = ids[^1];
        }
    }

    /// <summary>Inserts one Arrow stream into ClickHouse, then marks its outbox <paramref name="ids"/> (rows or blobs) exported.</summary>
    private async Task InsertAndMarkAsync(Pass pass, byte[] arrow, long[] ids, int rows,
        Func<NpgsqlDataSource, IReadOnlyCollection<long>, CancellationToken, Task> markExported, CancellationToken cancellationToken)
    {
        var phase = pass.Clock.Elapsed;
        try
        {
            await _transport.InsertArrowAsync(_schema.InsertHead, arrow, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            AnalyticsMetrics.ClickHouseWriteCompleted(pass.Clock.Elapsed - phase, failed: true);
            throw;
        }

        pass.Insert += pass.Clock.Elapsed - phase;
        AnalyticsMetrics.ClickHouseWriteCompleted(pass.Clock.Elapsed - phase);
        if (AfterInsertBeforeMark is { } hook)
        {
            await hook(ids, cancellationToken).ConfigureAwait(false);
        }

        phase = pass.Clock.Elapsed;
        await markExported(_ledger, ids, cancellationToken).ConfigureAwait(false);
        pass.Mark += pass.Clock.Elapsed - phase;
        AnalyticsMetrics.RowsExported(_schema.Database, rows);
        pass.Rows += rows;
        pass.Batches++;
    }

    /// <summary>
    /// Exports every <paramref name="interval"/> until cancelled. A failed pass is reported on
    /// <paramref name="log"/> and retried at the next tick (nothing is lost: unmarked rows stay in the outbox).
    /// </summary>
    public async Task RunAsync(TimeSpan interval, CancellationToken cancellationToken, TextWriter? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        using var timer = new PeriodicTimer(interval);
        do
        {
            try
            {
                var result = await ExportOnceAsync(cancellationToken).ConfigureAwait(false);
                var pending = await RatedWindowBlobOutbox.PendingRowsAsync(_ledger, cancellationToken).ConfigureAwait(false);
                LastSuccess = DateTimeOffset.UtcNow;
                LastError = null;
                AnalyticsMetrics.PassSucceeded(_schema.Database, LastSuccess.Value, pending);
                if (result.Rows > 0)
                {
                    log?.WriteLine($"export: {result.Rows:N0} rows in {result.Batches} batch(es), {result.Elapsed.TotalMilliseconds:N0} ms ({result.RowsPerSecond:N0} rows/s)");
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is ClickHouseException or NpgsqlException or TimeoutException or OperationCanceledException)
            {
                // OperationCanceledException here is a timeout (HttpClient's), not our cancellation: retry like any failure.
                LastError = e.Message;
                log?.WriteLine($"export: pass failed, retrying in {interval}: {e.Message}");
            }
        }
        while (await WaitAsync(timer, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
