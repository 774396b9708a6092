using Metering.Ledger.Corrections;
using Metering.Ledger.Migrations;
using Metering.Ledger.PeriodClose;
using Metering.Ledger.Verification;
using Metering.Rating.Periods;
using Metering.Tests.Statements;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Corrections;

/// <summary>
/// <see cref="CorrectionStore"/> against a real PostgreSQL ledger, on a fixed clock (2026-12-10 12:00 UTC, calendar
/// months). The events voided or amended down are first recorded in the ledger, as a flush records them: a correction
/// never takes back more than that.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class CorrectionStoreTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset Now = new(2026, 12, 10, 12, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset November = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset December = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset January = new(2027, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly BillingPeriodRule Months = BillingPeriodRule.CalendarMonth;

    private async Task<NpgsqlDataSource> LedgerAsync()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        return NpgsqlDataSource.Create(cs);
    }

    private static CorrectionRequest Request(string kind, string key, string? original = "5", string? updated = null, string eventTime = "2026-11-20T10:00:00Z",
        string? amount = null, string? currency = null, string? period = null, string reason = "duplicate upload", string eventId = "evt-1", string account = "acct-1")
    {
        var isEvent = kind is "void" or "amend";
        var input = new CorrectionInput(account, kind, key, isEvent ? eventId : null, isEvent ? "api.calls" : null, isEvent ? eventTime : null,
            isEvent ? original : null, updated, amount, currency, period, reason);
        var validation = CorrectionRequest.Validate(input, "test:ops", Metering.Web.Api.UsageRequest.IdentifierProblem);
        Assert.True(validation.IsValid, string.Join("; ", validation.Problems.Select(p => $"{p.Key}: {string.Join(", ", p.Value)}")));
        return validation.Request!;
    }

    /// <summary>A period total of api.calls as the flush leaves it.</summary>
    private static Task RecordAsync(NpgsqlDataSource db, DateTimeOffset period, decimal quantity, long count, string account = "acct-1", string sku = "api.calls") =>
        StatementLedger.TotalAsync(db, account, sku, period, quantity, count);

    private static Task<CorrectionWrite> Write(NpgsqlDataSource db, CorrectionRequest request, CorrectionHorizon? horizon = null) =>
        CorrectionStore.WriteAsync(db, request, Months, Now, horizon ?? CorrectionHorizon.Default, CancellationToken.None);

    private static async Task<long> CountAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT count(*) FROM corrections");
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Replaying_the_same_key_and_request_returns_the_stored_row_and_writes_nothing()
    {
        await using var db = await LedgerAsync();
        await RecordAsync(db, November, 5m, 1);
        var first = await Write(db, Request("void", "k-1"));
        Assert.Equal(CorrectionWriteStatus.Created, first.Status);
        var stored = first.Correction!;
        Assert.Equal(CorrectionKind.Void, stored.Kind);
        Assert.Equal(5m, stored.OriginalQuantity);
        Assert.Equal(0m, stored.NewQuantity);
        Assert.Equal(-5m, stored.QuantityDelta);
        Assert.Equal(November, stored.OriginalPeriodStart);
        Assert.Equal(November, stored.BookedPeriodStart);
        Assert.Equal(1, stored.Revision);
        Assert.Equal("test:ops", stored.Actor);
        Assert.Equal("duplicate upload", stored.Reason);

        // A retry, written differently (5.000 is 5; another actor does not make it another request).
        var input = new CorrectionInput("acct-1", "void", "k-1", "evt-1", "api.calls", "2026-11-20T11:00:00+01:00", "5.000", Reason: "duplicate upload");
        var again = await Write(db, CorrectionRequest.Validate(input, "test:someone-else", Metering.Web.Api.UsageRequest.IdentifierProblem).Request!);
        Assert.Equal(CorrectionWriteStatus.Replayed, again.Status);
        Assert.Equal(stored, again.Correction);
        Assert.Equal(1, await CountAsync(db));
    }

    [Fact]
    public async Task The_same_key_with_another_request_is_an_idempotency_conflict_naming_the_fields()
    {
        await using var db = await LedgerAsync();
        await RecordAsync(db, November, 5m, 1);
        var first = await Write(db, Request("amend", "k-1", updated: "3"));
        Assert.Equal(CorrectionWriteStatus.Created, first.Status);

        var conflict = await Write(db, Request("amend", "k-1", updated: "2", reason: "another reason"));
        Assert.Equal(CorrectionWriteStatus.IdempotencyConflict, conflict.Status);
        Assert.Equal(first.Correction!.Id, conflict.Correction!.Id);
        Assert.Equal(["new_quantity", "reason"], conflict.DifferingFields);

        // A key is global: the same key for another account is another request too.
        var otherAccount = await Write(db, Request("amend", "k-1", updated: "3", account: "acct-2"));
        Assert.Equal(CorrectionWriteStatus.IdempotencyConflict, otherAccount.Status);
        Assert.Equal(["account"], otherAccount.DifferingFields);
        Assert.Equal(1, await CountAsync(db));
    }

    [Fact]
    public async Task A_second_void_of_an_event_is_refused_and_so_is_an_amend_after_it()
    {
        await using var db = await LedgerAsync();
        await RecordAsync(db, November, 10m, 2);
        await RecordAsync(db, November, 5m, 1, account: "acct-2");
        Assert.Equal(CorrectionWriteStatus.Created, (await Write(db, Request("void", "k-1"))).Status);

        var twice = await Write(db, Request("void", "k-2"));
        Assert.Equal(CorrectionWriteStatus.Refused, twice.Status);
        Assert.Equal("already_voided", twice.Refusal!.Code);
        Assert.Equal("event_id", twice.Refusal.Field);

        var amend = await Write(db, Request("amend", "k-3", original: "0", updated: "4"));
        Assert.Equal("already_voided", amend.Refusal?.Code);

        // The same event id of another account is another event.
        Assert.Equal(CorrectionWriteStatus.Created, (await Write(db, Request("void", "k-4", account: "acct-2"))).Status);
        Assert.Equal(2, await CountAsync(db));
    }

    [Fact]
    public async Task Amends_chain_from_the_last_new_quantity_and_a_stale_original_is_refused_naming_the_current_quantity()
    {
        await using var db = await LedgerAsync();
        await RecordAsync(db, November, 5m, 1);
        var first = await Write(db, Request("amend", "k-1", original: "5", updated: "3.5"));
        Assert.Equal(-1.5m, first.Correction!.QuantityDelta);

        var stale = await Write(db, Request("amend", "k-2", original: "5", updated: "2"));
        Assert.Equal(CorrectionWriteStatus.Refused, stale.Status);
        Assert.Equal("quantity_mismatch", stale.Refusal!.Code);
        Assert.Equal("original_quantity", stale.Refusal.Field);
        Assert.Contains("has quantity 3.5", stale.Refusal.Message, StringComparison.Ordinal);

        var second = await Write(db, Request("amend", "k-3", original: "3.5", updated: "0"));
        Assert.Equal(CorrectionWriteStatus.Created, second.Status);
        Assert.Equal(2, second.Correction!.Revision);
        Assert.Equal(-3.5m, second.Correction.QuantityDelta);

        // An amend to 0 is still an amend: the event can be amended again from 0, then voided.
        var third = await Write(db, Request("amend", "k-4", original: "0", updated: "1"));
        Assert.Equal(3, third.Correction!.Revision);
        var wrongSku = await Write(db, CorrectionRequest.Validate(new CorrectionInput("acct-1", "void", "k-5", "evt-1", "api.other", "2026-11-20T10:00:00Z", "1", Reason: "r"),
            "test:ops", Metering.Web.Api.UsageRequest.IdentifierProblem).Request!);
        Assert.Equal("event_mismatch", wrongSku.Refusal?.Code);
        Assert.Equal("sku", wrongSku.Refusal?.Field);
        var wrongTime = await Write(db, Request("void", "k-6", original: "1", eventTime: "2026-11-20T10:00:01Z"));
        Assert.Equal("event_mismatch", wrongTime.Refusal?.Code);
        var voided = await Write(db, Request("void", "k-7", original: "1"));
        Assert.Equal(4, voided.Correction!.Revision);
        Assert.Equal(-1m, voided.Correction.QuantityDelta);

        var summary = await LedgerVerifier.CorrectionsAsync(db, CancellationToken.None);
        Assert.Equal(4, summary.Count);
        Assert.Equal(-5m, summary.NetQuantityDeltaBySku["api.calls"]);
        Assert.Empty(summary.Problems);
    }

    [Fact]
    public async Task An_event_older_than_the_horizon_or_in_the_future_is_refused_and_a_longer_horizon_accepts_the_old_one()
    {
        await using var db = await LedgerAsync();
        await RecordAsync(db, new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero), 10m, 2);
        var old = Request("void", "k-1", eventTime: "2026-10-09T11:59:59Z"); // 62 days and 1 s before now
        var refused = await Write(db, old);
        Assert.Equal("outside_horizon", refused.Refusal?.Code);
        Assert.Equal("event_time", refused.Refusal?.Field);
        Assert.Contains("62 days", refused.Refusal!.Message, StringComparison.Ordinal);

        var future = await Write(db, Request("void", "k-2", eventId: "evt-2", eventTime: "2026-12-10T12:00:01Z"));
        Assert.Equal("future_event", future.Refusal?.Code);
        Assert.Equal(0, await CountAsync(db));

        Assert.Equal(CorrectionWriteStatus.Created, (await Write(db, Request("void", "k-3", eventId: "evt-3", eventTime: "2026-10-09T12:00:00Z"))).Status); // exactly at the horizon
        var longer = await Write(db, old, new CorrectionHorizon(TimeSpan.FromDays(100)));
        Assert.Equal(CorrectionWriteStatus.Created, longer.Status);
        Assert.Equal(new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero), longer.Correction!.BookedPeriodStart);
    }

    [Fact]
    public async Task A_void_of_an_event_in_a_closed_period_is_booked_into_the_first_open_period_after_it()
    {
        await using var db = await LedgerAsync();
        await RecordAsync(db, November, 5m, 1);
        await PeriodCloser.CloseAsync(db, November, CancellationToken.None, Months, Now);
        var intoDecember = await Write(db, Request("void", "k-1"));
        Assert.Equal(November, intoDecember.Correction!.OriginalPeriodStart);
        Assert.Equal(December, intoDecember.Correction.BookedPeriodStart);

        await PeriodCloser.CloseAsync(db, December, CancellationToken.None, Months, Now, force: true);
        var intoJanuary = await Write(db, Request("amend", "k-2", eventId: "evt-2", updated: "7"));
        Assert.Equal(November, intoJanuary.Correction!.OriginalPeriodStart);
        Assert.Equal(January, intoJanuary.Correction.BookedPeriodStart);

        await using var connection = await db.OpenConnectionAsync();
        Assert.Equal([intoDecember.Correction.Id], (await CorrectionStore.ForStatementAsync(connection, null, "acct-1", December, CancellationToken.None)).Select(c => c.Id));
        Assert.Equal([intoJanuary.Correction.Id], (await CorrectionStore.ForStatementAsync(connection, null, "acct-1", January, CancellationToken.None)).Select(c => c.Id));
        Assert.Empty(await CorrectionStore.ForStatementAsync(connection, null, "acct-1", November, CancellationToken.None));
    }

    [Fact]
    public async Task A_credit_or_debit_into_a_closed_period_is_refused_and_without_a_period_it_books_into_the_open_one()
    {
        await using var db = await LedgerAsync();
        await PeriodCloser.CloseAsync(db, November, CancellationToken.None, Months, Now);
        var closed = await Write(db, Request("credit", "k-1", amount: "10.00", currency: "USD", period: "2026-11"));
        Assert.Equal(CorrectionWriteStatus.Refused, closed.Status);
        Assert.Equal("period_closed", closed.Refusal!.Code);
        Assert.Equal("period", closed.Refusal.Field);
        var notAStart = await Write(db, Request("debit", "k-2", amount: "1", currency: "USD", period: "2026-12-02"));
        Assert.Equal("not_a_period_start", notAStart.Refusal?.Code);
        Assert.Equal(0, await CountAsync(db));

        var credit = await Write(db, Request("credit", "k-3", amount: "10.5", currency: "USD", reason: "outage credit"));
        Assert.Equal(-10.5m, credit.Correction!.Amount);
        Assert.Equal("USD", credit.Correction.Currency);
        Assert.Equal(December, credit.Correction.BookedPeriodStart);
        var debit = await Write(db, Request("debit", "k-4", amount: "1250", currency: "JPY", period: "2027-01", reason: "setup fee"));
        Assert.Equal(1250m, debit.Correction!.Amount);
        Assert.Equal(January, debit.Correction.BookedPeriodStart);

        // Closing December (the period containing now) moves a later credit without a period to January.
        await PeriodCloser.CloseAsync(db, December, CancellationToken.None, Months, Now, force: true);
        var later = await Write(db, Request("credit", "k-5", amount: "2", currency: "EUR"));
        Assert.Equal(January, later.Correction!.BookedPeriodStart);
        // ...and its replay still answers replayed, though the clock's period is closed now.
        Assert.Equal(CorrectionWriteStatus.Replayed, (await Write(db, Request("credit", "k-3", amount: "10.50", currency: "USD", reason: "outage credit"))).Status);

        await using var connection = await db.OpenConnectionAsync();
        var january = await CorrectionStore.ForAccountsAsync(connection, null, January, CancellationToken.None);
        Assert.Equal(["acct-1"], january.Keys);
        Assert.Equal([debit.Correction.Id, later.Correction.Id], january["acct-1"].Select(c => c.Id));
        var summary = await LedgerVerifier.CorrectionsAsync(db, CancellationToken.None);
        Assert.Equal(-10.5m, summary.NetAmountByCurrency["USD"]);
        Assert.Equal(1250m, summary.NetAmountByCurrency["JPY"]);
        Assert.Equal(new Dictionary<string, long> { ["credit"] = 2, ["debit"] = 1 }, summary.CountByKind);
    }

    [Fact]
    public async Task Concurrent_writers_of_one_key_store_one_correction_and_concurrent_amends_of_one_event_chain()
    {
        await using var db = await LedgerAsync();
        await RecordAsync(db, November, 5m, 1);
        var sameKey = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => Write(db, Request("void", "k-1")))));
        Assert.Single(sameKey, w => w.Status == CorrectionWriteStatus.Created);
        Assert.All(sameKey, w => Assert.Equal(sameKey.Single(x => x.Status == CorrectionWriteStatus.Created).Correction!.Id, w.Correction!.Id));

        // Eight amends of one event from the same original quantity with different keys: exactly one wins.
        var amends = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Write(db, Request("amend", $"a-{i}", eventId: "evt-2", original: "5", updated: $"{i + 6}")))));
        Assert.Single(amends, w => w.Status == CorrectionWriteStatus.Created);
        Assert.Equal(7, amends.Count(w => w.Refusal?.Code == "quantity_mismatch"));
        Assert.Equal(2, await CountAsync(db));
    }

    [Fact]
    public async Task A_void_of_an_event_the_ledger_never_recorded_is_refused_exceeds_recorded()
    {
        await using var db = await LedgerAsync();
        // Usage of another period, another SKU and another account is not this event's.
        await RecordAsync(db, new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero), 5m, 1);
        await RecordAsync(db, November, 5m, 1, sku: "api.other");
        await RecordAsync(db, November, 5m, 1, account: "acct-2");
        var never = await Write(db, Request("void", "k-1"));
        Assert.Equal(CorrectionWriteStatus.Refused, never.Status);
        Assert.Equal("exceeds_recorded", never.Refusal!.Code);
        Assert.Equal("original_quantity", never.Refusal.Field);
        Assert.Contains("recorded 0 in 0 record(s) of SKU 'api.calls' for account 'acct-1'", never.Refusal.Message, StringComparison.Ordinal);
        Assert.Contains("would leave -5 in -1 record(s)", never.Refusal.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync(db));

        // Recorded, it can be voided, once; a second event then has no record left to void, even with quantity left.
        await RecordAsync(db, November, 6m, 1);
        Assert.Equal(CorrectionWriteStatus.Created, (await Write(db, Request("void", "k-2"))).Status);
        var noRecordLeft = await Write(db, Request("void", "k-3", eventId: "evt-2", original: "1"));
        Assert.Equal("exceeds_recorded", noRecordLeft.Refusal?.Code);
        Assert.Contains("recorded 6 in 1 record(s)", noRecordLeft.Refusal!.Message, StringComparison.Ordinal);
        Assert.Contains("1 in 0 after its earlier corrections", noRecordLeft.Refusal.Message, StringComparison.Ordinal);
        Assert.Equal(1, await CountAsync(db));
    }

    [Fact]
    public async Task An_amend_down_below_the_recorded_total_is_refused_naming_the_recorded_quantity()
    {
        await using var db = await LedgerAsync();
        await RecordAsync(db, November, 3m, 1);
        var below = await Write(db, Request("amend", "k-1", original: "5", updated: "1"));
        Assert.Equal(CorrectionWriteStatus.Refused, below.Status);
        Assert.Equal("exceeds_recorded", below.Refusal!.Code);
        Assert.Equal("original_quantity", below.Refusal.Field);
        Assert.Contains("recorded 3 in 1 record(s)", below.Refusal.Message, StringComparison.Ordinal);
        Assert.Contains("would leave -1", below.Refusal.Message, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync(db));

        // Down to exactly nothing is allowed; an amend takes back quantity, not a record.
        var toZero = await Write(db, Request("amend", "k-2", original: "5", updated: "2"));
        Assert.Equal(CorrectionWriteStatus.Created, toZero.Status);
        var further = await Write(db, Request("amend", "k-3", original: "2", updated: "1.999999999"));
        Assert.Equal("exceeds_recorded", further.Refusal?.Code);
    }

    [Fact]
    public async Task An_amend_up_is_accepted_whatever_was_recorded_and_counts_toward_what_later_corrections_may_take_back()
    {
        await using var db = await LedgerAsync();
        var up = await Write(db, Request("amend", "k-1", original: "5", updated: "7"));
        Assert.Equal(CorrectionWriteStatus.Created, up.Status);
        Assert.Equal(2m, up.Correction!.QuantityDelta);
        Assert.Equal(CorrectionWriteStatus.Created, (await Write(db, Request("amend", "k-2", eventId: "evt-2", original: "0", updated: "1"))).Status);

        // Nothing recorded, 3 added by the amends up: the amends down may take back those 3 and no more.
        Assert.Equal(CorrectionWriteStatus.Created, (await Write(db, Request("amend", "k-3", original: "7", updated: "5"))).Status);
        var more = await Write(db, Request("amend", "k-4", eventId: "evt-3", original: "5", updated: "3.5"));
        Assert.Equal("exceeds_recorded", more.Refusal?.Code);
        Assert.Contains("recorded 0 in 0 record(s)", more.Refusal!.Message, StringComparison.Ordinal);
        Assert.Contains("1 in 0 after its earlier corrections", more.Refusal.Message, StringComparison.Ordinal);
        Assert.Equal(CorrectionWriteStatus.Created, (await Write(db, Request("amend", "k-5", original: "5", updated: "100"))).Status);
        Assert.Equal(4, await CountAsync(db));
    }

    [Fact]
    public async Task A_void_of_late_usage_recorded_only_in_adjustments_of_a_closed_period_is_accepted()
    {
        await using var db = await LedgerAsync();
        await PeriodCloser.CloseAsync(db, November, CancellationToken.None, Months, Now);
        // Late usage of October and of another SKU is not November's api.calls.
        await StatementLedger.LateAsync(db, "acct-1", "api.calls", December, new DateTimeOffset(2026, 10, 1, 0, 0, 0, TimeSpan.Zero), 5m, 1);
        await StatementLedger.LateAsync(db, "acct-1", "api.other", December, November, 5m, 1);
        Assert.Equal("exceeds_recorded", (await Write(db, Request("void", "k-1"))).Refusal?.Code);

        // Two late windows of November's api.calls: 8 in 2 records.
        await StatementLedger.LateAsync(db, "acct-1", "api.calls", December, November, 5m, 1);
        await StatementLedger.LateAsync(db, "acct-1", "api.calls", December, November, 3m, 1);
        var late = await Write(db, Request("void", "k-2"));
        Assert.Equal(CorrectionWriteStatus.Created, late.Status);
        Assert.Equal(November, late.Correction!.OriginalPeriodStart);
        Assert.Equal(December, late.Correction.BookedPeriodStart);
        Assert.Equal(CorrectionWriteStatus.Created, (await Write(db, Request("void", "k-3", eventId: "evt-2", original: "3"))).Status);
        var third = await Write(db, Request("void", "k-4", eventId: "evt-3", original: "0"));
        Assert.Equal("exceeds_recorded", third.Refusal?.Code);
        Assert.Contains("recorded 8 in 2 record(s)", third.Refusal!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_voids_of_different_events_of_one_period_never_take_back_more_than_was_recorded()
    {
        await using var db = await LedgerAsync();
        await RecordAsync(db, November, 3m, 8);
        var voids = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Write(db, Request("void", $"v-{i}", eventId: $"evt-{i}", original: "1")))));
        Assert.Equal(3, voids.Count(w => w.Status == CorrectionWriteStatus.Created));
        Assert.Equal(5, voids.Count(w => w.Refusal?.Code == "exceeds_recorded"));
        Assert.Equal(3, await CountAsync(db));
    }

    [Fact]
    public async Task The_table_refuses_rows_the_api_would_not_accept()
    {
        await using var db = await LedgerAsync();
        async Task Refused(string values)
        {
            await using var cmd = db.CreateCommand($"""
                INSERT INTO corrections (idempotency_key, account, kind, event_id, sku, event_time, original_period_start, booked_period_start, revision,
                  original_quantity, new_quantity, quantity_delta, amount, currency, actor, reason) VALUES ({values})
                """);
            var e = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
            Assert.StartsWith("23", e.SqlState, StringComparison.Ordinal);
        }

        const string Event = "'evt', 'api.calls', '2026-11-20T00:00:00Z', '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z', 1";
        await Refused($"'k1', 'a', 'void', {Event}, 5, 1, -4, NULL, NULL, 'ops', 'r'");        // a void leaves 0
        await Refused($"'k2', 'a', 'amend', {Event}, 5, 3, -1, NULL, NULL, 'ops', 'r'");       // delta is new - original
        await Refused($"'k3', 'a', 'amend', {Event}, 5, 3, NULL, NULL, NULL, 'ops', 'r'");     // a NULL delta is not a pass
        await Refused($"'k4', 'a', 'amend', {Event}, 5, -1, -6, NULL, NULL, 'ops', 'r'");      // no negative quantity
        await Refused($"'k5', 'a', 'void', {Event}, 5, 0, -5, 1, 'USD', 'ops', 'r'");          // a void carries no money
        await Refused("'k6', 'a', 'credit', NULL, NULL, NULL, NULL, '2026-11-01T00:00:00Z', NULL, NULL, NULL, NULL, 10, 'USD', 'ops', 'r'");   // a credit is negative
        await Refused("'k7', 'a', 'debit', NULL, NULL, NULL, NULL, '2026-11-01T00:00:00Z', NULL, NULL, NULL, NULL, 10.0001, 'USD', 'ops', 'r'"); // sub-minor digits
        await Refused("'k8', 'a', 'debit', NULL, NULL, NULL, NULL, '2026-11-01T00:00:00Z', NULL, NULL, NULL, NULL, 10, 'USD', 'ops', ''");    // a reason is required
        await Refused("'k9', 'a', 'refund', NULL, NULL, NULL, NULL, '2026-11-01T00:00:00Z', NULL, NULL, NULL, NULL, 10, 'USD', 'ops', 'r'");
        await Refused($"'k10', 'a', 'void', 'evt', 'api.calls', '2026-11-20T00:00:00Z', '2026-11-01T00:00:00Z', '2026-10-01T00:00:00Z', 1, 5, 0, -5, NULL, NULL, 'ops', 'r'"); // booked before its period
        Assert.Equal(0, await CountAsync(db));
    }

    [Fact]
    public async Task Verify_accounts_for_every_correction_and_reports_a_broken_chain()
    {
        await using var db = await LedgerAsync();
        await Write(db, Request("amend", "k-1", updated: "8"));
        await Write(db, Request("credit", "k-2", amount: "3", currency: "USD"));
        Assert.Empty(await LedgerVerifier.VerifyAsync(db, "metering", "usage", null, CancellationToken.None));

        // A row written around the store that does not start from the event's current quantity (8).
        await using (var cmd = db.CreateCommand("""
            INSERT INTO corrections (idempotency_key, account, kind, event_id, sku, event_time, original_period_start, booked_period_start, revision,
              original_quantity, new_quantity, quantity_delta, actor, reason)
            VALUES ('k-3', 'acct-1', 'amend', 'evt-1', 'api.calls', '2026-11-20T10:00:00Z', '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z', 2, 5, 1, -4, 'psql', 'by hand')
            """))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        var problems = await LedgerVerifier.VerifyAsync(db, "metering", "usage", null, CancellationToken.None);
        var problem = Assert.Single(problems);
        Assert.Contains("starts from quantity 5", problem, StringComparison.Ordinal);
        Assert.Contains("left 8", problem, StringComparison.Ordinal);
        var summary = await LedgerVerifier.CorrectionsAsync(db, CancellationToken.None);
        Assert.Equal(3, summary.Count);
        Assert.Equal(3m - 4m, summary.NetQuantityDeltaBySku["api.calls"]);
    }
}
