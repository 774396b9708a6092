using System.Text;
using Metering.Cli.Arguments;
using Metering.Cli.Commands;
using Metering.Ledger.Migrations;
using Metering.Ledger.Quotas;
using Metering.Rating.PriceBooks;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Alerts;

/// <summary>Quotas from price books (validated, synced into the table) and from operators (<c>metering quota set|list</c>).</summary>
[Collection(PostgresCollection.Name)]
public sealed class QuotaConfigurationTests(PostgresFixture postgres)
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    private static string List(string quotas) => """
        { "id": "edge-list", "currency": "USD",
          "versions": [ { "version": "v1", "effective_from": "2026-01-01T00:00:00Z",
            "prices": { "api.calls": { "model": "per_unit", "unit": "call", "unit_price": "0.01" } } } ],
          "quotas": 
        """ + quotas + "}";

    private static string Contract(string quotas) => """
        { "id": "acct-1-contract", "account": "acct-1", "parent": "edge-list",
          "versions": [ { "version": "c1", "effective_from": "2026-01-01T00:00:00Z",
            "prices": { "api.calls": { "model": "per_unit", "unit": "call", "unit_price": "0.005" } } } ],
          "quotas": 
        """ + quotas + "}";

    private static IReadOnlyList<PriceBookError> Errors(string json, PriceBook? parent = null) =>
        PriceBookLoader.Validate(Encoding.UTF8.GetBytes(json), parent).Errors;

    [Fact]
    public void Price_book_quotas_load_with_the_books_currency_and_a_contracts_account()
    {
        var list = PriceBookLoader.Load(Encoding.UTF8.GetBytes(List("""
            [ { "account": "acct-2", "sku": "api.calls", "metric": "quantity", "threshold": "1000000" },
              { "account": "acct-2", "metric": "amount", "threshold": 500, "description": "monthly budget" } ]
            """)), "list");
        Assert.Equal([new PriceBookQuota("acct-2", "api.calls", QuotaMetric.Quantity, 1_000_000m, null), new PriceBookQuota("acct-2", null, QuotaMetric.Amount, 500m, "USD")], list.Quotas);
        var contract = PriceBookLoader.Load(Encoding.UTF8.GetBytes(Contract("""[ { "metric": "amount", "threshold": "250.50" } ]""")), "contract", list);
        Assert.Equal([new PriceBookQuota("acct-1", null, QuotaMetric.Amount, 250.50m, "USD")], contract.Quotas);
    }

    [Fact]
    public void Invalid_price_book_quotas_are_reported_with_their_json_paths()
    {
        var errors = Errors(List("""
            [ { "sku": "api.calls", "metric": "quantity", "threshold": 10 },
              { "account": "a", "metric": "quantity", "threshold": 10 },
              { "account": "a", "sku": "api.calls", "metric": "amount", "threshold": 10 },
              { "account": "a", "metric": "spend", "threshold": 10 },
              { "account": "a", "metric": "amount", "threshold": 0 },
              { "account": "a", "metric": "amount", "threshold": "-1" },
              { "account": "a", "metric": "amount", "threshold": 10, "limit": 3 },
              { "account": "a", "metric": "amount", "threshold": 20 },
              { "account": "a", "metric": "amount", "threshold": "20.0" } ]
            """)).Select(e => e.ToString()).ToList();
        Assert.Contains("$.quotas[0].account: is required", errors);
        Assert.Contains("$.quotas[1].sku: is required for a quantity quota (the SKU whose quantity is limited)", errors);
        Assert.Contains("$.quotas[2].sku: must be absent for an amount quota (it sums all the account's SKUs)", errors);
        Assert.Contains(errors, e => e.StartsWith("$.quotas[3].metric: 'spend' is not 'quantity'", StringComparison.Ordinal));
        Assert.Contains("$.quotas[4].threshold: must be above zero", errors);
        Assert.Contains("$.quotas[5].threshold: must not be negative", errors);
        Assert.Contains(errors, e => e.StartsWith("$.quotas[6].limit: unknown field", StringComparison.Ordinal));
        Assert.Contains("$.quotas[8]: repeats $.quotas[7]", errors);
        Assert.Equal(8, errors.Count);

        Assert.Equal(["$.quotas: must be an array of quotas"], Errors(List("{}")).Select(e => e.ToString()));
        var list = PriceBookLoader.Load(Encoding.UTF8.GetBytes(List("[]")), "list");
        Assert.Equal(["$.quotas[0].account: 'acct-9' is not this contract's account 'acct-1' (omit it: a contract's quotas are its account's)"],
            Errors(Contract("""[ { "account": "acct-9", "metric": "amount", "threshold": 1 } ]"""), list).Select(e => e.ToString()));
    }

    [Fact]
    public async Task Syncing_price_book_quotas_adds_new_ones_removes_dropped_ones_and_leaves_operator_quotas_alone()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var operatorQuota = await QuotaStore.SetAsync(db, "acct-2", "api.calls", QuotaMetric.Quantity, 5m, null, CancellationToken.None);

        var v1 = PriceBookLoader.Load(Encoding.UTF8.GetBytes(List("""
            [ { "account": "acct-2", "sku": "api.calls", "metric": "quantity", "threshold": 1000 },
              { "account": "acct-2", "metric": "amount", "threshold": 500 } ]
            """)), "list");
        var contract = PriceBookLoader.Load(Encoding.UTF8.GetBytes(Contract("""[ { "metric": "amount", "threshold": 100 } ]""")), "contract", v1);
        Assert.Equal((3, 0), await QuotaStore.SyncPriceBookQuotasAsync(db, new PriceCatalog(v1, [contract]), CancellationToken.None));
        Assert.Equal((0, 0), await QuotaStore.SyncPriceBookQuotasAsync(db, new PriceCatalog(v1, [contract]), CancellationToken.None)); // idempotent

        var v2 = PriceBookLoader.Load(Encoding.UTF8.GetBytes(List("""[ { "account": "acct-2", "metric": "amount", "threshold": 750 } ]""")), "list");
        Assert.Equal((1, 3), await QuotaStore.SyncPriceBookQuotasAsync(db, new PriceCatalog(v2, []), CancellationToken.None));
        var quotas = await QuotaStore.ListAsync(db, null, CancellationToken.None);
        Assert.Equal(2, quotas.Count);
        Assert.Contains(quotas, q => q is { Source: "api", Metric: QuotaMetric.Quantity, Threshold: 5m } && q.Id == operatorQuota);
        Assert.Contains(quotas, q => q is { Source: "pricebook", Metric: QuotaMetric.Amount, Threshold: 750m, Currency: "USD", Sku: null });
    }

    [Fact]
    public async Task Quota_set_is_idempotent_and_quota_list_prints_every_quota()
    {
        var cs = await postgres.NewDatabaseAsync();
        Task<int> Run(ICliCommand command, params string[] args) => command.RunAsync(CliArguments.Parse([.. args, "--pg", cs], NoEnvironment), CancellationToken.None);

        using var setOutput = new StringWriter();
        Assert.Equal(0, (await Run(new QuotaSetCommand(setOutput), "--account", "acct-1", "--sku", "api.calls", "--metric", "quantity", "--threshold", "1000")));
        Assert.Equal(0, (await Run(new QuotaSetCommand(setOutput), "--account", "acct-1", "--metric", "amount", "--threshold", "250.5", "--currency", "usd")));
        Assert.Equal(0, (await Run(new QuotaSetCommand(setOutput), "--account", "acct-1", "--metric", "amount", "--threshold", "250.50", "--currency", "USD")));
        var lines = setOutput.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(lines[1], lines[2]); // the same quota, the same id
        Assert.Equal("quota 2: acct-1: amount in USD >= 250.5 per period", lines[1]);

        await Assert.ThrowsAsync<CliUsageException>(() => Run(new QuotaSetCommand(setOutput), "--account", "acct-1", "--metric", "amount", "--threshold", "5"));
        await Assert.ThrowsAsync<CliUsageException>(() => Run(new QuotaSetCommand(setOutput), "--account", "acct-1", "--metric", "quantity", "--threshold", "5", "--currency", "USD", "--sku", "s"));
        await Assert.ThrowsAsync<CliUsageException>(() => Run(new QuotaSetCommand(setOutput), "--account", "acct-1", "--metric", "spend", "--threshold", "5"));
        await Assert.ThrowsAsync<CliUsageException>(() => Run(new QuotaSetCommand(setOutput), "--account", "acct-1", "--sku", "s", "--metric", "quantity", "--threshold", "-5"));

        using var listOutput = new StringWriter();
        Assert.Equal(0, (await Run(new QuotaListCommand(listOutput), "--account", "acct-1")));
        var listed = listOutput.ToString();
        Assert.Contains("api        acct-1: amount in USD >= 250.5 per period", listed, StringComparison.Ordinal);
        Assert.Contains("api        acct-1: quantity of api.calls >= 1000 per period", listed, StringComparison.Ordinal);

        using var removeOutput = new StringWriter();
        Assert.Equal(0, await Run(new QuotaRemoveCommand(removeOutput), "--id", "1"));
        Assert.Equal(1, await Run(new QuotaRemoveCommand(removeOutput), "--id", "1"));
        Assert.Equal("quota 1: removed\nquota 1: no such quota\n", removeOutput.ToString().ReplaceLineEndings("\n"));
        await using var db = NpgsqlDataSource.Create(cs);
        Assert.Equal([2L], (await QuotaStore.ListAsync(db, "acct-1", CancellationToken.None)).Select(q => q.Id));
    }
}
