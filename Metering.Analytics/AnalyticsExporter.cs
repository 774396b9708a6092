using System.Diagnostics;
using Metering.Ledger.Outbox;
using Npgsql;

namespace Metering.Analytics;

/// <summary>
/// Moves the PostgreSQL outbox <c>rated_windows</c> into ClickHouse: reads unexported rows in id order in bounded
/// batches, inserts each batch as one Arrow IPC stream, then sets <c>exported_at</c> on exactly those ids.
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

    /// <summary>Creates the exporter; <paramref name="batchSize"/> bounds the rows per Arrow batch (and memory).</summary>
    public AnalyticsExporter(NpgsqlDataSource ledger, IAnalyticsTransport transport, AnalyticsSchema schema, int batchSize = 50_000)
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

    /// <summary>Test hook: runs after a batch is in ClickHouse and before PostgreSQL marks it (fault injection).</summary>
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
    /// Exports every row that is unexported now (ids up to the current maximum; rows committed meanwhile wait for the
    /// next pass, so a pass always ends), batch by batch. Returns what moved.
    /// </summary>
    public async Task<ExportResult> ExportOnceAsync(CancellationToken cancellationToken)
    {
        if (!_schemaReady)
        {
            await EnsureSchemaAsync(cancellationToken).ConfigureAwait(false);
        }

        var clock = Stopwatch.StartNew();
        var limit = await RatedWindowOutbox.MaxIdAsync(_ledger, cancellationToken).ConfigureAwait(false);

        long rows = 0;
        var batches = 0;
        var after = 0L;
        TimeSpan read = default, insert = default, mark = default;
        while (true)
        {
            var phase = clock.Elapsed;
            var batch = await RatedWindowOutbox.ReadUnexportedAsync(_ledger, after, limit, _batchSize, cancellationToken).ConfigureAwait(false);
            read += clock.Elapsed - phase;
            if (batch.Count == 0)
            {
                break;
            }

            phase = clock.Elapsed;
            try
            {
                await _transport.InsertArrowAsync(_schema.InsertHead, UsageWindowArrow.Encode(batch), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                AnalyticsMetrics.ClickHouseWriteCompleted(clock.Elapsed - phase, failed: true);
                throw;
            }

            insert += clock.Elapsed - phase;
            AnalyticsMetrics.ClickHouseWriteCompleted(clock.Elapsed - phase);
            var ids = batch.Select(r => r.Id).ToArray();
            if (AfterInsertBeforeMark is { } hook)
            {
                await hook(ids, cancellationToken).ConfigureAwait(false);
            }

            phase = clock.Elapsed;
            await RatedWindowOutbox.MarkExportedAsync(_ledger, ids, cancellationToken).ConfigureAwait(false);
            mark += clock.Elapsed - phase;
            AnalyticsMetrics.RowsExported(_schema.Database, batch.Count);
            rows += batch.Count;
            batches++;
            after = ids[^1];
            if (batch.Count < _batchSize)
            {
                break;
            }
        }

        return new ExportResult(rows, batches, clock.Elapsed, read, insert, mark);
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
                var pending = await PendingRowsAsync(cancellationToken).ConfigureAwait(false);
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

    /// <summary>Outbox rows not yet exported (the partial index <c>rated_windows_unexported</c> holds exactly them).</summary>
    private async Task<long> PendingRowsAsync(CancellationToken cancellationToken)
    {
        await using var cmd = _ledger.CreateCommand("SELECT count(*) FROM rated_windows WHERE exported_at IS NULL");
        return (long)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
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
