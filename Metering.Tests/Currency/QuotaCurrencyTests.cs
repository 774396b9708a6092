using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Metering.Ledger.Quotas;
using Metering.Ledger.Totals;
using Metering.Rating.PriceBooks;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using Npgsql;

// Not Metering.Tests.Currency: a namespace of that name would hide the Currency type from every test namespace.
namespace Metering.Tests.Currencies;

/// <summary>
/// Amount quotas and account currencies: a quota is compared with the account's amounts in the quota's currency, never
/// converted; one in another currency than the account's is refused when set through the API or the store, and listed
/// as <c>currency_mismatch</c> when it got there otherwise (a price book's quota is in the book's currency). Real
/// PostgreSQL, the API on a test server, the evaluator in a flush-like transaction.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class QuotaCurrencyTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset Nov = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    private static async Task AccountAsync(NpgsqlDataSource db, string account, string currency)
    {
        await using var cmd = db.CreateCommand("INSERT INTO accounts (account, currency, list_book, subscription_start) VALUES ($1, $2, 'usd-list', '2026-11-01Z')");
        cmd.Parameters.AddWithValue(account);
        cmd.Parameters.AddWithValue(currency);
        await cmd.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task An_amount_quota_in_another_currency_than_the_accounts_is_refused_at_creation_and_one_in_its_currency_is_active()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        await AccountAsync(host.Db, "acct-eur", "EUR");
        using var admin = host.Client(ApiTestHost.Token("admin"));

        using var usd = await admin.PostAsJsonAsync("/v1/accounts/acct-eur/quotas", new { metric = "amount", currency = "USD", threshold = "100.00" });
        Assert.Equal(HttpStatusCode.BadRequest, usd.StatusCode);
        var problem = await ApiTestHost.Json(usd);
        Assert.Equal("urn:metering:problem:invalid-parameter", problem.GetProperty("type").GetString());
        Assert.Contains("account 'acct-eur' is billed in EUR: an amount quota in USD would never be compared with its amounts",
            problem.GetProperty("errors").GetProperty("currency")[0].GetString(), StringComparison.Ordinal);
        var store = await Assert.ThrowsAsync<QuotaCurrencyMismatchException>(() => QuotaStore.SetAsync(host.Db, "acct-eur", null, QuotaMetric.Amount, 100m, "USD", CancellationToken.None));
        Assert.Equal(("USD", "EUR"), (store.QuotaCurrency, store.AccountCurrency));
        Assert.Empty(await QuotaStore.ListAsync(host.Db, "acct-eur", CancellationToken.None));

        using var eur = await admin.PostAsJsonAsync("/v1/accounts/acct-eur/quotas", new { metric = "amount", currency = "EUR", threshold = "100.00" });
        Assert.Equal(HttpStatusCode.Created, eur.StatusCode);
        var created = await ApiTestHost.Json(eur);
        Assert.Equal(("EUR", "active"), (created.GetProperty("currency").GetString(), created.GetProperty("status").GetString()));

        // A quantity quota has no currency: the account's does not matter.
        using var quantity = await admin.PostAsJsonAsync("/v1/accounts/acct-eur/quotas", new { metric = "quantity", sku = "api.calls", threshold = "5" });
        Assert.Equal("active", (await ApiTestHost.Json(quantity)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task An_eur_quota_on_an_eur_account_fires_on_eur_amounts_while_the_books_usd_quota_is_a_currency_mismatch_and_never_fires()
    {
        await using var host = await ApiTestHost.StartAsync(postgres);
        var db = host.Db;
        await AccountAsync(db, "acct-eur", "EUR");
        await QuotaStore.SetAsync(db, "acct-eur", null, QuotaMetric.Amount, 10m, "EUR", CancellationToken.None);

        // The list book's quota for the account is in the book's currency, USD, below every amount below: were it
        // compared with the EUR amounts (converted or not), it would fire.
        var book = PriceBookLoader.Load("""
            {"id": "usd-list", "currency": "USD", "rounding": "half_up",
             "versions": [ { "version": "v1", "effective_from": "2026-01-01T00:00:00Z",
               "prices": { "api.calls": { "model": "per_unit", "unit": "call", "unit_price": "0.01", "currency_options": { "EUR": { "unit_price": "0.009" } } } } } ],
             "quotas": [ { "account": "acct-eur", "metric": "amount", "threshold": "5.00" } ] }
            """u8, "usd-list");
        Assert.Equal((1, 0), await QuotaStore.SyncPriceBookQuotasAsync(db, new PriceCatalog(book, []), CancellationToken.None));

        // A flush takes the account's EUR total from 6.00 to 12.00: across the EUR quota's 10.
        await using (var connection = await db.OpenConnectionAsync())
        await using (var tx = await connection.BeginTransactionAsync())
        {
            await using (var total = new NpgsqlCommand("""
                INSERT INTO billing_period_totals (account, sku, period_start, period_end, price_from, quantity, record_count, amount, currency, price_book, price_book_version, price_book_hash)
                VALUES ('acct-eur', 'api.calls', $1, $2, $1, 1333, 2, 12.00, 'EUR', 'usd-list', 'v1', 'sha256:x')
                """, connection, tx))
            {
                total.Parameters.AddWithValue(Nov.UtcDateTime);
                total.Parameters.AddWithValue(Nov.AddMonths(1).UtcDateTime);
                await total.ExecuteNonQueryAsync();
            }

            var change = new TotalChange("acct-eur", "api.calls", Nov, Nov.AddMonths(1), "EUR", 666m, 1333m, 1, 2, 6.00m, 12.00m);
            Assert.Equal(1, await QuotaEvaluator.EvaluateAsync(connection, tx, [change], CancellationToken.None));
            await tx.CommitAsync();
        }

        await using (var alerts = db.CreateCommand("SELECT threshold, value_before, value_at_crossing, currency FROM alerts"))
        await using (var r = await alerts.ExecuteReaderAsync())
        {
            Assert.True(await r.ReadAsync());
            Assert.Equal((10m, 6.00m, 12.00m, "EUR"), (r.GetDecimal(0), r.GetDecimal(1), r.GetDecimal(2), r.GetString(3)));
            Assert.False(await r.ReadAsync());
        }

        using var reader = host.Client(ApiTestHost.Token("billing:read", account: "acct-eur"));
        using var list = JsonDocument.Parse(await reader.GetStringAsync("/v1/accounts/acct-eur/quotas"));
        Assert.Equal(
            [("EUR", "api", "active"), ("USD", "pricebook", "currency_mismatch")],
            list.RootElement.EnumerateArray().Select(q => (q.GetProperty("currency").GetString(), q.GetProperty("source").GetString(), q.GetProperty("status").GetString()))
                .OrderBy(q => q.Item1, StringComparer.Ordinal).ToList());
        Assert.True((await QuotaStore.ListAsync(db, "acct-eur", CancellationToken.None)).Single(q => q.Currency == "USD").CurrencyMismatch);
    }
}
