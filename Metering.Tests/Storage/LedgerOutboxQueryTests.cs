using Metering.Ledger.Reconcile;
using Metering.Ledger.Totals;
using Metering.Ledger.DeadLetters;
using Metering.Ledger.Flush;
using Metering.Ledger.Migrations;
using Metering.Ledger.Outbox;
using Metering.Ledger.Quotas;
using Npgsql;

namespace Metering.Tests.Storage;

/// <summary>
/// The ledger's outbox and report queries that the engine, the exporter, the reconciler and the CLI call, each against
/// a real migrated ledger whose rows are written here by hand, so every filter, bound and order is seen directly.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class LedgerOutboxQueryTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset October = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset December = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    private async Task<NpgsqlDataSource> LedgerAsync()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        return NpgsqlDataSource.Create(cs);
    }

    private static async Task ExecAsync(NpgsqlDataSource db, string sql)
    {
        await using var cmd = db.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource db, string sql)
    {
        await using var cmd = db.CreateCommand(sql);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    private static string Total(string account, string sku, string period, string quantity, long count, string amount, string currency = "USD") =>
        $"('{account}', '{sku}', '{period}', '{period}'::timestamptz + interval '1 month', {quantity}, {count}, {amount}, '{currency}', 'list', 'v1', 'h')";

    private static Task InsertTotalsAsync(NpgsqlDataSource db, params string[] rows) => ExecAsync(db,
        "INSERT INTO billing_period_totals (account, sku, period_start, period_end, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash) VALUES "
        + string.Join(", ", rows));

    private static Task InsertWindowAsync(NpgsqlDataSource db, long id, string account, string sku, DateTimeOffset periodStart, string quantity, long count, string amount, string? exportedAt = null) => ExecAsync(db, $$"""
        INSERT INTO rated_windows (id, account, sku, window_start, window_end, dimensions, quantity, record_count, amount, currency, price_book_hash, period_start, exported_at)
        VALUES ({{id}}, '{{account}}', '{{sku}}', '{{periodStart.AddMinutes(id):O}}', '{{periodStart.AddMinutes(id + 1):O}}', '{"region":"eu"}', {{quantity}}, {{count}}, {{amount}}, 'USD', 'h',
                '{{periodStart:O}}', {{(exportedAt is null ? "NULL" : "'" + exportedAt + "'")}})
        """);

    [Fact]
    public async Task Sku_summary_sums_every_account_and_period_per_sku_in_sku_order()
    {
        await using var db = await LedgerAsync();
        Assert.Empty(await BillingTotalsQuery.BySkuAsync(db, default));
        await InsertTotalsAsync(db,
            Total("a1", "storage.gb", "2026-11-01Z", "1.000000001", 2, "0.25"),
            Total("a2", "storage.gb", "2026-10-01Z", "2.5", 3, "0.5"),
            Total("a1", "api.calls", "2026-11-01Z", "7", 7, "1.75"),
            Total("a2", "api.calls", "2026-11-01Z", "99999999999.999999999", 1, "0.000000001"));

        var lines = await BillingTotalsQuery.BySkuAsync(db, default);

        Assert.Equal(
            [
                new SkuTotal("api.calls", 8, 100000000006.999999999m, 1.750000001m, "USD"),
                new SkuTotal("storage.gb", 5, 3.500000001m, 0.75m, "USD"),
            ],
            lines);
    }

    [Fact]
    public async Task Period_starts_are_the_distinct_periods_with_totals_ascending_in_utc()
    {
        await using var db = await LedgerAsync();
        await InsertTotalsAsync(db,
            Total("a1", "s", "2026-12-01Z", "1", 1, "0"),
            Total("a2", "s", "2026-10-01Z", "1", 1, "0"),
            Total("a1", "t", "2026-10-01Z", "1", 1, "0"),
            Total("a1", "s", "2026-11-01Z", "1", 1, "0"));

        var periods = await BillingTotalsQuery.PeriodStartsAsync(db, default);

        Assert.Equal([October, November, December], periods);
        Assert.All(periods, p => Assert.Equal(TimeSpan.Zero, p.Offset));
    }

    [Fact]
    public async Task Committed_records_count_only_the_group_and_topic_asked_for_and_start_at_zero()
    {
        await using var db = await LedgerAsync();
        Assert.Equal(0, await LedgerProgress.CommittedRecordsAsync(db, "g", "usage", default));
        await ExecAsync(db, """
            INSERT INTO conservation (consumer_group, topic, partition, read, accepted, duplicates, rejected) VALUES
              ('g', 'usage', 0, 10, 8, 1, 1), ('g', 'usage', 1, 5, 5, 0, 0),
              ('other', 'usage', 0, 1000, 1000, 0, 0), ('g', 'usage.other', 0, 100, 100, 0, 0)
            """);

        Assert.Equal(15, await LedgerProgress.CommittedRecordsAsync(db, "g", "usage", default));
        Assert.Equal(1000, await LedgerProgress.CommittedRecordsAsync(db, "other", "usage", default));
        Assert.Equal(0, await LedgerProgress.CommittedRecordsAsync(db, "other", "usage.other", default));
    }

    [Fact]
    public async Task A_dead_letter_claim_skips_rows_another_claim_holds_and_a_claim_ended_without_commit_publishes_nothing()
    {
        await using var db = await LedgerAsync();
        await ExecAsync(db, """
            INSERT INTO dead_letters (id, source, partition, "offset", reason, detail, raw, published_at) VALUES
              (1, 'kafka:usage', 0, 10, 'bad_json', 'line 1', '\x7b', NULL),
              (2, 'kafka:usage', 1, 11, 'bad_json', 'line 2', '\x7c', NULL),
              (3, 'kafka:usage', 0, 12, 'bad_quantity', 'q', '\x7d', NULL),
              (4, 'kafka:usage', 0, 13, 'bad_json', 'published', '\x00', now()),
              (5, 'kafka:usage.other', 0, 1, 'bad_json', 'other topic', '\x00', NULL),
              (6, 'http', NULL, NULL, 'bad_json', 'edge', '\x00', NULL)
            """);

        await using (var first = await DeadLetterOutboxStore.ClaimAsync(db, "usage", 2, default))
        {
            Assert.Equal(
                [(1L, 0, 10L, "bad_json", "line 1", "7B"), (2L, 1, 11L, "bad_json", "line 2", "7C")],
                first.Rows.Select(r => (r.Id, r.Partition, r.Offset, r.Reason, r.Detail, Convert.ToHexString(r.Raw))));
            await using (var second = await DeadLetterOutboxStore.ClaimAsync(db, "usage", 10, default))
            {
                Assert.Equal([3L], second.Rows.Select(r => r.Id));
                await second.MarkPublishedAsync([3L], default);
            }

            // the second claim ended without a commit: row 3 is unpublished and free again
            await first.MarkPublishedAsync([1L], default);
            await first.CommitAsync(default);
        }

        await using var third = await DeadLetterOutboxStore.ClaimAsync(db, "usage", 10, default);
        Assert.Equal([2L, 3L], third.Rows.Select(r => r.Id));
        Assert.Equal(1L, await ScalarAsync<long>(db, "SELECT count(*) FROM dead_letters WHERE published_at IS NOT NULL AND id <> 4"));
    }

    [Fact]
    public async Task The_outbox_reads_unexported_rows_between_the_bounds_in_id_order_and_a_mark_keeps_the_first_export_time()
    {
        await using var db = await LedgerAsync();
        Assert.Equal(0, await RatedWindowOutbox.MaxIdAsync(db, default));
        await InsertWindowAsync(db, 1, "a1", "s", November, "1", 1, "0.1");
        await InsertWindowAsync(db, 2, "a1", "s", November, "2", 2, "0.2", exportedAt: "2020-01-01Z");
        await InsertWindowAsync(db, 4, "a2", "s", November, "4.000000001", 4, "-0.4");
        await InsertWindowAsync(db, 3, "a1", "t", October, "3", 3, "0.3");
        await InsertWindowAsync(db, 5, "a1", "s", November, "5", 5, "0.5");
        Assert.Equal(5, await RatedWindowOutbox.MaxIdAsync(db, default));

        var rows = await RatedWindowOutbox.ReadUnexportedAsync(db, afterId: 1, maxId: 4, limit: 10, default);

        Assert.Equal([3L, 4L], rows.Select(r => r.Id));
        Assert.Equal(new RatedWindowRow(4, "a2", "s", November.AddMinutes(4), November.AddMinutes(5), """{"region": "eu"}""", 4.000000001m, 4, -0.4m, "USD", "h", November), rows[1]);
        Assert.Equal([3L], (await RatedWindowOutbox.ReadUnexportedAsync(db, 1, 4, limit: 1, default)).Select(r => r.Id));

        await RatedWindowOutbox.MarkExportedAsync(db, [2L, 3L], default);
        Assert.Equal([1L, 4L, 5L], (await RatedWindowOutbox.ReadUnexportedAsync(db, 0, 5, 10, default)).Select(r => r.Id));
        Assert.Equal(new DateTime(2020, 1, 1, 0, 0, 0, DateTimeKind.Utc), await ScalarAsync<DateTime>(db, "SELECT exported_at FROM rated_windows WHERE id = 2"));
    }

    private static RatedWindowRow Window(long id, string account, DateTimeOffset period, decimal quantity, decimal amount, string currency = "USD") =>
        new(id, account, "s", period.AddMinutes(id % 1000), period.AddMinutes((id % 1000) + 1), """{"region": "eu"}""", quantity, 1 + (id % 7), amount, currency, "h", period);

    /// <summary>Writes <paramref name="rows"/> as the flush does (ids given by the outbox), blobs of <paramref name="rowsPerBlob"/>; returns them with their ids.</summary>
    private static async Task<List<RatedWindowRow>> WriteBlobsAsync(NpgsqlDataSource db, IReadOnlyList<RatedWindowRow> rows, int rowsPerBlob)
    {
        var written = new List<RatedWindowRow>();
        await using var connection = await db.OpenConnectionAsync();
        await using var tx = await connection.BeginTransactionAsync();
        await RatedWindowBlobOutbox.WriteAsync(connection, rows.Count, (blob, id, i) =>
        {
            var r = rows[i] with { Id = id };
            written.Add(r);
            blob.Append(r.Id, r.Account, r.Sku, r.WindowStart, r.WindowEnd, r.Dimensions, r.Quantity, r.RecordCount, r.Amount, r.Currency, r.PriceBookHash, r.PeriodStart);
        }, default, rowsPerBlob);
        await tx.CommitAsync();
        return written;
    }

    [Fact]
    public async Task Blobs_are_read_whole_in_id_order_within_the_row_budget_and_hold_exactly_the_rows_written()
    {
        await using var db = await LedgerAsync();
        Assert.Equal(0, await RatedWindowBlobOutbox.MaxIdAsync(db, default));
        var rows = Enumerable.Range(0, 250).Select(i => Window(i, "a" + (i % 3), November, i + 0.000000001m, i % 2 == 0 ? -0.25m : 1.5m, i % 5 == 0 ? "EUR" : "USD")).ToList();
        var written = await WriteBlobsAsync(db, rows, rowsPerBlob: 100);
        Assert.Equal(3, await RatedWindowBlobOutbox.MaxIdAsync(db, default));

        var firstTwo = await RatedWindowBlobOutbox.ReadUnexportedAsync(db, afterId: 0, maxId: 3, maxRows: 150, default);
        Assert.Equal([(1L, 100), (2L, 100)], firstTwo.Select(b => (b.Id, b.RowCount)));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => RatedWindowBlobOutbox.FirstRowId(1) + i), RatedWindowArrow.Decode(firstTwo[0].Arrow).Select(r => r.Id));
        Assert.Equal([1L], (await RatedWindowBlobOutbox.ReadUnexportedAsync(db, 0, 3, maxRows: 1, default)).Select(b => b.Id)); // a blob is never split
        Assert.Equal([3L], (await RatedWindowBlobOutbox.ReadUnexportedAsync(db, 2, 3, maxRows: 1_000, default)).Select(b => b.Id));
        Assert.Equal(written, await RatedWindowBlobOutbox.ReadAllRowsAsync(db, default));

        await RatedWindowBlobOutbox.MarkExportedAsync(db, [1L], default);
        Assert.Equal([2L, 3L], (await RatedWindowBlobOutbox.ReadUnexportedAsync(db, 0, 3, 1_000, default)).Select(b => b.Id));
        Assert.Equal(150, await RatedWindowBlobOutbox.PendingRowsAsync(db, default));

        // the per-currency sums beside each blob (what verify adds up) are the rows' exact sums
        var sums = await ScalarAsync<string>(db, "SELECT string_agg(c || '=' || a, ',' ORDER BY c) FROM (SELECT c, sum(a) AS a FROM rated_window_blobs, unnest(currencies, amounts) AS u(c, a) GROUP BY c) t");
        Assert.Equal(string.Join(',', rows.GroupBy(r => r.Currency).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}={g.Sum(r => r.Amount)}")), sums);
    }

    [Fact]
    public async Task Dimensions_in_a_blob_are_the_text_jsonb_prints_for_the_same_object()
    {
        await using var db = await LedgerAsync();
        KeyValuePair<string, string>[][] sets =
        [
            [new("region", "eu")],
            [new("tier", "gold"), new("region", "us"), new("az", "1"), new("zone", "b")],
            [new("é", "x"), new("ab", "y"), new("Z", "\"q\" \\ \t\n\r\b\f\u0001 \u007f ü 🚀"), new("b", "</script>")],
        ];
        foreach (var set in sets)
        {
            var json = System.Text.Json.JsonSerializer.Serialize(set.ToDictionary(p => p.Key, p => p.Value));
            await using var cmd = db.CreateCommand("SELECT $1::jsonb::text");
            cmd.Parameters.Add(new() { Value = json });
            Assert.Equal((string)(await cmd.ExecuteScalarAsync())!, RatedWindowWriter.JsonbText(set));
        }
    }

    [Fact]
    public async Task The_reconcile_snapshot_counts_the_unexported_blob_rows_of_the_period_above_every_row_outbox_id()
    {
        await using var db = await LedgerAsync();
        await InsertWindowAsync(db, 7, "a1", "s", November, "1", 1, "0.1");
        var written = await WriteBlobsAsync(db, [Window(1, "a1", November, 2, 0.2m), Window(2, "a2", October, 3, 0.3m), Window(3, "a3", November, 4, 0.4m)], rowsPerBlob: 2);
        await RatedWindowBlobOutbox.MarkExportedAsync(db, [2L], default); // the blob of a3's row

        var snapshot = await ReconcileSnapshotQuery.ReadAsync(db, November, inFlightLimit: 10, default);

        Assert.Equal(RatedWindowBlobOutbox.FirstRowId(2), snapshot.MaxOutboxId);
        Assert.Equal([new ReconcileInFlight(7, "a1", "s", 1m, 1, 0.1m), new ReconcileInFlight(written[0].Id, "a1", "s", 2m, written[0].RecordCount, 0.2m)], snapshot.InFlight);
        Assert.Single((await ReconcileSnapshotQuery.ReadAsync(db, November, inFlightLimit: 1, default)).InFlight);
    }

    [Fact]
    public async Task The_reconcile_snapshot_adds_adjustments_that_reference_the_period_and_lists_only_its_unexported_windows()
    {
        await using var db = await LedgerAsync();
        await InsertTotalsAsync(db,
            Total("a1", "s", "2026-11-01Z", "10", 10, "1"),
            Total("a2", "s", "2026-11-01Z", "1", 1, "0.1"),
            Total("a1", "s", "2026-12-01Z", "100", 100, "10"));
        // late usage of November, booked in December, and an adjustment of October booked in November (not November's)
        await ExecAsync(db, """
            INSERT INTO adjustments (account, sku, period_start, original_period_start, quantity, record_count, amount, currency, price_book_hash, reference) VALUES
              ('a1', 's', '2026-12-01Z', '2026-11-01Z', 0.5, 2, 0.05, 'USD', 'h', 'late'),
              ('a3', 's', '2026-12-01Z', '2026-11-01Z', 3, 3, 0.3, 'USD', 'h', 'late, no total'),
              ('a1', 's', '2026-11-01Z', '2026-10-01Z', 7, 7, 0.7, 'USD', 'h', 'october')
            """);
        await InsertWindowAsync(db, 1, "a1", "s", November, "10", 10, "1", exportedAt: "2026-11-02Z");
        await InsertWindowAsync(db, 2, "a2", "s", November, "1", 1, "0.1");
        await InsertWindowAsync(db, 3, "a1", "s", October, "7", 7, "0.7");
        await InsertWindowAsync(db, 4, "a1", "s", November, "0.5", 2, "0.05");
        await InsertWindowAsync(db, 5, "a1", "s", December, "100", 100, "10");

        var snapshot = await ReconcileSnapshotQuery.ReadAsync(db, November, inFlightLimit: 10, default);

        Assert.Equal(
            [new ReconcileTotal("a1", "s", 10.5m, 12, 1.05m), new ReconcileTotal("a2", "s", 1m, 1, 0.1m), new ReconcileTotal("a3", "s", 3m, 3, 0.3m)],
            snapshot.Totals.OrderBy(t => t.Account, StringComparer.Ordinal));
        Assert.Equal(5, snapshot.MaxOutboxId);
        Assert.Equal([new ReconcileInFlight(2, "a2", "s", 1m, 1, 0.1m), new ReconcileInFlight(4, "a1", "s", 0.5m, 2, 0.05m)], snapshot.InFlight);
        Assert.Equal([2L], (await ReconcileSnapshotQuery.ReadAsync(db, November, inFlightLimit: 1, default)).InFlight.Select(f => f.Id));
    }

    [Fact]
    public async Task Due_alerts_follow_the_channels_asked_for_and_a_failed_round_backs_the_alert_off()
    {
        await using var db = await LedgerAsync();
        await ExecAsync(db, """
            INSERT INTO alerts (id, alert_key, quota_id, account, sku, metric, threshold, value_before, value_at_crossing, currency, period_start, period_end, crossed_at,
                                delivered_kafka_at, next_attempt_at) VALUES
              ('00000000-0000-0000-0000-00000000000a', '1:a', 1, 'a', 's', 'quantity', 1500, 1400, 1600, NULL, '2026-11-01Z', '2026-12-01Z', '2026-11-05Z', NULL, now()),
              ('00000000-0000-0000-0000-00000000000b', '2:b', 2, 'b', NULL, 'amount', 10, 9.5, 10.25, 'USD', '2026-11-01Z', '2026-12-01Z', '2026-11-04Z', now(), now()),
              ('00000000-0000-0000-0000-00000000000c', '3:c', 3, 'c', 's', 'quantity', 1, 0, 2, NULL, '2026-11-01Z', '2026-12-01Z', '2026-11-03Z', NULL, now() + interval '1 hour')
            """);
        var a = Guid.Parse("00000000-0000-0000-0000-00000000000a");
        var b = Guid.Parse("00000000-0000-0000-0000-00000000000b");

        var kafkaOnly = await AlertOutbox.LoadDueAsync(db, kafka: true, webhook: false, limit: 10, default);
        var both = await AlertOutbox.LoadDueAsync(db, kafka: true, webhook: true, limit: 10, default);

        var due = Assert.Single(kafkaOnly);
        Assert.Equal((a, true, false), (due.Alert.Id, due.NeedsKafka, due.NeedsWebhook));
        Assert.Equal([(b, false, true), (a, true, true)], both.Select(d => (d.Alert.Id, d.NeedsKafka, d.NeedsWebhook)));
        Assert.Equal(new Alert(b, "2:b", 2, "b", null, "amount", 10m, 9.5m, 10.25m, "USD", November, December, new DateTimeOffset(2026, 11, 4, 0, 0, 0, TimeSpan.Zero)), both[0].Alert);
        Assert.Equal([b], (await AlertOutbox.LoadDueAsync(db, true, true, limit: 1, default)).Select(d => d.Alert.Id));
        await Assert.ThrowsAsync<ArgumentException>(() => AlertOutbox.LoadDueAsync(db, kafka: false, webhook: false, limit: 10, default));

        // a: 2^20 s back-off, capped at the hour asked for; b: delivered on the webhook, nothing failed
        await AlertOutbox.MarkAsync(db, [new AlertDelivery(a, Kafka: true, Webhook: false, Attempts: 20, Error: "webhook: HTTP 500", Failed: true), new AlertDelivery(b, false, true, 1, null, false)], TimeSpan.FromHours(1), default);

        Assert.Empty(await AlertOutbox.LoadDueAsync(db, true, true, 10, default));
        Assert.Equal(
            "20|webhook: HTTP 500|true|false|true",
            await ScalarAsync<string>(db, $"SELECT attempts || '|' || last_error || '|' || (delivered_kafka_at IS NOT NULL) || '|' || (delivered_webhook_at IS NOT NULL) || '|' || (next_attempt_at BETWEEN now() + interval '50 minutes' AND now() + interval '1 hour') FROM alerts WHERE id = '{a}'"));
        Assert.Equal("1|true|true", await ScalarAsync<string>(db, $"SELECT attempts || '|' || (delivered_kafka_at IS NOT NULL) || '|' || (delivered_webhook_at IS NOT NULL) FROM alerts WHERE id = '{b}'"));
    }
}
