using System.Net;
using System.Net.Http.Json;
using Metering.Cli.Arguments;
using Metering.Cli.Commands;
using Metering.Ledger.Accounts;
using Metering.Ledger.Migrations;
using Metering.Ledger.PeriodClose;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Accounts;

/// <summary>
/// An account's billing currency cannot change while it has usage in an open billing period (migration 0018): through
/// the API (409 <c>currency-in-use</c>), through the store and around both with plain SQL. Real PostgreSQL; usage is
/// seeded as the ledger's rows (totals, late usage, corrections, re-rate lines) so each kind is checked on its own.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class AccountCurrencyChangeTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset Oct = new(2026, 10, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Nov = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Dec = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Nov15 = new(2026, 11, 15, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Dec15 = new(2026, 12, 15, 0, 0, 0, TimeSpan.Zero);

    private static object Terms(string currency, string? end = null) => new
    {
        currency,
        list_book = "edge-list",
        start = "2026-10-01T00:00:00Z",
        end,
        reason = "test",
    };

    [Fact]
    public async Task A_currency_change_of_an_account_with_totals_in_an_open_period_is_a_409_currency_in_use_and_stores_nothing()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        Assert.Equal(HttpStatusCode.Created, (await admin.PutAsJsonAsync("/v1/accounts/acct-usd", Terms("USD"))).StatusCode);
        await TotalAsync(host.Db, "acct-usd", Nov, Dec, "USD");

        using var refused = await admin.PutAsJsonAsync("/v1/accounts/acct-usd", Terms("EUR"));
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var problem = await ApiTestHost.Json(refused);
        Assert.Equal(("urn:metering:problem:currency-in-use", "EUR", "2026-11-01T00:00:00Z"),
            (problem.GetProperty("type").GetString(), problem.GetProperty("currency").GetString(), problem.GetProperty("open_period_start").GetString()));
        Assert.Contains("open billing period starting 2026-11-01T00:00:00Z", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Nothing stored: the currency, and the audit holds only the creation.
        using var read = host.Client(ApiTestHost.Token("billing:read"));
        Assert.Equal("USD", (await ApiTestHost.Json(await read.GetAsync("/v1/accounts/acct-usd"))).GetProperty("currency").GetString());
        Assert.Equal(["created"], (await AccountStore.ChangesAsync(host.Db, "acct-usd", CancellationToken.None)).Select(c => c.Change));

        // The other terms still change; the same currency again is no change of it.
        using var ended = await admin.PutAsJsonAsync("/v1/accounts/acct-usd", Terms("USD", end: "2027-01-01T00:00:00Z"));
        Assert.Equal(HttpStatusCode.OK, ended.StatusCode);
        Assert.Equal("updated", (await ApiTestHost.Json(ended)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Once_every_period_with_usage_is_closed_the_currency_changes_through_the_api()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        using var admin = host.Client(ApiTestHost.Token("admin"));
        Assert.Equal(HttpStatusCode.Created, (await admin.PutAsJsonAsync("/v1/accounts/acct-move", Terms("USD"))).StatusCode);
        await TotalAsync(host.Db, "acct-move", Oct, Nov, "USD");
        await TotalAsync(host.Db, "acct-move", Nov, Dec, "USD");

        // October closed, November still open: refused, naming November.
        await PeriodCloser.CloseAsync(host.Db, Oct, CancellationToken.None, now: Dec);
        var problem = await ApiTestHost.Json(await admin.PutAsJsonAsync("/v1/accounts/acct-move", Terms("EUR")));
        Assert.Equal((409, "2026-11-01T00:00:00Z"), (problem.GetProperty("status").GetInt32(), problem.GetProperty("open_period_start").GetString()));

        // November closed too: the next period starts with no usage, and the change is allowed (December bills in EUR).
        await PeriodCloser.CloseAsync(host.Db, Nov, CancellationToken.None, now: Dec);
        using var moved = await admin.PutAsJsonAsync("/v1/accounts/acct-move", Terms("EUR"));
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal("EUR", (await ApiTestHost.Json(moved)).GetProperty("account").GetProperty("currency").GetString());
    }

    [Fact]
    public async Task An_update_around_the_api_cannot_change_the_currency_while_late_usage_a_correction_or_a_rerate_line_is_booked_into_an_open_period()
    {
        await using var db = await LedgerAsync();
        await using (var closeNov = db.CreateCommand("INSERT INTO closed_periods (period_start, period_end) VALUES ('2026-11-01Z', '2026-12-01Z')"))
        {
            await closeNov.ExecuteNonQueryAsync();
        }

        var kinds = new (string Account, string Row)[]
        {
            ("acct-late", "INSERT INTO adjustments (account, sku, period_start, original_period_start, quantity, record_count, amount, currency, price_book_hash, reference) VALUES ($1, 'requests', '2026-12-01Z', '2026-11-01Z', 5, 1, 0.05, 'USD', 'sha256:x', 'late')"),
            ("acct-credit", "INSERT INTO corrections (idempotency_key, account, kind, booked_period_start, amount, currency, actor, reason) VALUES ($1, $1, 'credit', '2026-12-01Z', -1.00, 'USD', 'test', 'goodwill')"),
            ("acct-void", "INSERT INTO corrections (idempotency_key, account, kind, event_id, sku, event_time, original_period_start, booked_period_start, revision, original_quantity, new_quantity, quantity_delta, actor, reason) VALUES ($1, $1, 'void', 'e-1', 'requests', '2026-11-20Z', '2026-11-01Z', '2026-12-01Z', 1, 5, 0, -5, 'test', 'duplicate')"),
            ("acct-rerate", "INSERT INTO booked_adjustments (account, booked_period_start, kind, reference, amount, currency, reason, actor, batch, original_period_start) VALUES ($1, '2026-12-01Z', 'rerate', 'rerate', 0.10, 'USD', 'new prices', 'test', $1, '2026-11-01Z')"),
        };
        foreach (var (account, row) in kinds)
        {
            await AccountRowAsync(db, account, "USD");
            // Its November total is frozen: only the row booked into the open December holds the currency.
            await TotalAsync(db, account, Nov, Dec, "USD", closed: true);
            await using (var seed = db.CreateCommand(row))
            {
                seed.Parameters.AddWithValue(account);
                await seed.ExecuteNonQueryAsync();
            }

            var refused = await Assert.ThrowsAsync<PostgresException>(() => SetCurrencyAsync(db, account, "EUR"));
            Assert.Equal(("MT002", "currency_in_use"), (refused.SqlState, refused.Hint));
            Assert.Contains($"account {account} has usage in its open billing period starting 2026-12-01T00:00:00Z", refused.MessageText, StringComparison.Ordinal);
            Assert.Equal("USD", await CurrencyAsync(db, account));
        }

        // An account whose only usage is in the closed November: free to change.
        await AccountRowAsync(db, "acct-closed", "USD");
        await TotalAsync(db, "acct-closed", Nov, Dec, "USD", closed: true);
        await SetCurrencyAsync(db, "acct-closed", "EUR");
        Assert.Equal("EUR", await CurrencyAsync(db, "acct-closed"));

        // Open usage never priced ('XXX': no price in its currency) was charged in no currency: fixing the currency is allowed.
        await AccountRowAsync(db, "acct-unpriced", "EUR");
        await TotalAsync(db, "acct-unpriced", Dec, Dec.AddMonths(1), "XXX");
        await SetCurrencyAsync(db, "acct-unpriced", "USD");
        Assert.Equal("USD", await CurrencyAsync(db, "acct-unpriced"));
    }

    [Fact]
    public async Task An_account_with_its_own_periods_is_held_by_its_rule_groups_closes_not_the_list_books()
    {
        await using var db = await LedgerAsync();
        await using (var insert = db.CreateCommand("INSERT INTO accounts (account, currency, list_book, subscription_start, anchor_day) VALUES ('acct-15', 'USD', 'edge-list', '2026-10-15Z', 15)"))
        {
            await insert.ExecuteNonQueryAsync();
        }

        // Late usage booked into its period [Nov 15, Dec 15); the list book's November is closed, which is not its period.
        await using (var seed = db.CreateCommand("""
            INSERT INTO closed_periods (period_start, period_end) VALUES ('2026-11-15Z', '2026-12-15Z');
            INSERT INTO adjustments (account, sku, period_start, original_period_start, quantity, record_count, amount, currency, price_book_hash, reference)
            VALUES ('acct-15', 'requests', '2026-11-15Z', '2026-10-15Z', 5, 1, 0.05, 'USD', 'sha256:x', 'late')
            """))
        {
            await seed.ExecuteNonQueryAsync();
        }

        var refused = await Assert.ThrowsAsync<PostgresException>(() => SetCurrencyAsync(db, "acct-15", "EUR"));
        Assert.Equal("MT002", refused.SqlState);
        Assert.Contains("open billing period starting 2026-11-15T00:00:00Z", refused.MessageText, StringComparison.Ordinal);

        // Its rule group's close of [Nov 15, Dec 15) closes it.
        await using (var close = db.CreateCommand("INSERT INTO closed_rule_periods (anchor_day, time_zone, period_start, period_end, label_start) VALUES (15, '', $1, $2, '2026-11-01Z')"))
        {
            close.Parameters.AddWithValue(Nov15.UtcDateTime);
            close.Parameters.AddWithValue(Dec15.UtcDateTime);
            await close.ExecuteNonQueryAsync();
        }

        await SetCurrencyAsync(db, "acct-15", "EUR");
        Assert.Equal("EUR", await CurrencyAsync(db, "acct-15"));
    }

    [Fact]
    public async Task Creating_the_row_of_an_implicitly_billed_account_is_refused_in_another_currency_than_its_open_usage_and_allowed_in_the_same()
    {
        await using var db = await LedgerAsync();
        await TotalAsync(db, "acct-implicit", Nov, Dec, "USD");

        var eur = new Rating.Accounts.AccountTerms("acct-implicit", Rating.Money.Currency.Get("EUR"), "edge-list", null, Nov, null, null, null);
        var refused = await Assert.ThrowsAsync<CurrencyInUseException>(() => AccountStore.SetAsync(db, eur, "test", null, CancellationToken.None));
        Assert.Equal(("EUR", "2026-11-01T00:00:00Z"), (refused.Currency, refused.OpenPeriodStart));
        Assert.Null(await AccountStore.GetAsync(db, "acct-implicit", CancellationToken.None));

        var usd = new Rating.Accounts.AccountTerms("acct-implicit", Rating.Money.Currency.Get("USD"), "edge-list", null, Nov, null, null, null);
        Assert.Equal(AccountWriteStatus.Created, (await AccountStore.SetAsync(db, usd, "test", null, CancellationToken.None)).Status);
    }

    [Fact]
    public async Task A_currency_change_waits_for_a_flush_in_flight_and_is_refused_by_the_totals_it_commits()
    {
        await using var db = await LedgerAsync();
        await AccountRowAsync(db, "acct-racing", "USD");

        // A "flush": the close lock shared, as LedgerWriter takes it, and the account's first total, not yet committed.
        await using var flush = await db.OpenConnectionAsync();
        await using var flushTx = await flush.BeginTransactionAsync();
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock_shared($1)", flush, flushTx))
        {
            lockCmd.Parameters.AddWithValue(PeriodCloser.CloseLockKey);
            await lockCmd.ExecuteNonQueryAsync();
        }

        await using (var total = new NpgsqlCommand(TotalSql, flush, flushTx))
        {
            AddTotal(total, "acct-racing", Nov, Dec, "USD", false);
            await total.ExecuteNonQueryAsync();
        }

        var change = SetCurrencyAsync(db, "acct-racing", "EUR");
        await Task.Delay(500);
        Assert.False(change.IsCompleted); // waiting on the lock, not deciding on a snapshot without the flush's total
        await flushTx.CommitAsync();

        var refused = await Assert.ThrowsAsync<PostgresException>(() => change);
        Assert.Equal("MT002", refused.SqlState);
        Assert.Equal("USD", await CurrencyAsync(db, "acct-racing"));
    }

    [Fact]
    public async Task Account_set_refusing_a_currency_change_exits_1_and_stores_nothing()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        Task<int> Set(string currency) => new AccountSetCommand(new StringWriter()).RunAsync(CliArguments.Parse(
            ["--account", "acct-cli", "--currency", currency, "--list-book", "edge-list", "--start", "2026-10-01T00:00:00Z", "--pg", cs], _ => null), CancellationToken.None);

        Assert.Equal(0, await Set("USD"));
        await TotalAsync(db, "acct-cli", Nov, Dec, "USD");
        Assert.Equal(1, await Set("EUR"));
        Assert.Equal("USD", await CurrencyAsync(db, "acct-cli"));
        Assert.Equal(["created"], (await AccountStore.ChangesAsync(db, "acct-cli", CancellationToken.None)).Select(c => c.Change));
    }

    private const string TotalSql = """
        INSERT INTO billing_period_totals (account, sku, period_start, period_end, price_from, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash, closed)
        VALUES ($1, 'requests', $2, $3, $2, 10, 1, 0.10, $4, 'edge-list', 'v1', 'sha256:x', $5)
        """;

    private static void AddTotal(NpgsqlCommand cmd, string account, DateTimeOffset start, DateTimeOffset end, string currency, bool closed)
    {
        cmd.Parameters.AddWithValue(account);
        cmd.Parameters.AddWithValue(start.UtcDateTime);
        cmd.Parameters.AddWithValue(end.UtcDateTime);
        cmd.Parameters.AddWithValue(currency);
        cmd.Parameters.AddWithValue(closed);
    }

    private static async Task TotalAsync(NpgsqlDataSource db, string account, DateTimeOffset start, DateTimeOffset end, string currency, bool closed = false)
    {
        await using var cmd = db.CreateCommand(TotalSql);
        AddTotal(cmd, account, start, end, currency, closed);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task AccountRowAsync(NpgsqlDataSource db, string account, string currency)
    {
        await using var cmd = db.CreateCommand("INSERT INTO accounts (account, currency, list_book, subscription_start) VALUES ($1, $2, 'edge-list', '2026-10-01Z')");
        cmd.Parameters.AddWithValue(account);
        cmd.Parameters.AddWithValue(currency);
        await cmd.ExecuteNonQueryAsync();
    }

    // Around the API and the store: what a psql session or another tool would run.
    private static async Task SetCurrencyAsync(NpgsqlDataSource db, string account, string currency)
    {
        await using var cmd = db.CreateCommand("UPDATE accounts SET currency = $2 WHERE account = $1");
        cmd.Parameters.AddWithValue(account);
        cmd.Parameters.AddWithValue(currency);
        await cmd.ExecuteNonQueryAsync();
    }

    private static async Task<string?> CurrencyAsync(NpgsqlDataSource db, string account)
    {
        await using var cmd = db.CreateCommand("SELECT currency FROM accounts WHERE account = $1");
        cmd.Parameters.AddWithValue(account);
        return (await cmd.ExecuteScalarAsync() as string)?.Trim();
    }

    private async Task<NpgsqlDataSource> LedgerAsync()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        return NpgsqlDataSource.Create(cs);
    }
}
