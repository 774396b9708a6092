using System.Net;
using System.Text.Json;
using Metering.Cli.Arguments;
using Metering.Cli.Commands;
using Metering.Ledger.Accounts;
using Metering.Rating.Accounts;
using Metering.Rating.Money;
using Metering.Tests.Api;
using Metering.Tests.Storage;
using static Metering.Tests.Statements.StatementLedger;

namespace Metering.Tests.Statements;

/// <summary>
/// A closed period read the three ways invoicing can: <c>metering statements export</c> (ndjson and csv),
/// <c>GET /v1/statements?period=P</c> page by page, and <c>GET /v1/accounts/{a}/statements/{p}</c>; all the same final
/// statements. The close itself runs through <c>metering period close</c>.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class StatementExportTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("statements-").FullName;

    private readonly PostgresFixture _postgres;

    public StatementExportTests(PostgresFixture postgres)
    {
        _postgres = postgres;
        File.WriteAllText(Path.Combine(_dir, "list.json"), ListJson);
        File.WriteAllText(Path.Combine(_dir, "contract.json"), ContractJson);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private Task<int> Cli(ICliCommand command, params string[] args) => command.RunAsync(
        CliArguments.Parse([.. args, "--pricebook", Path.Combine(_dir, "list.json"), "--contracts", Path.Combine(_dir, "contract.json"), "--pg", _connection!], _ => null),
        CancellationToken.None);

    private string? _connection;

    [Fact]
    public async Task The_ndjson_export_of_a_closed_period_is_exactly_the_per_account_final_statements_and_the_paged_list()
    {
        await using var host = await ApiTestHost.StartAsync(_postgres, prices: Prices);
        _connection = host.Db.ConnectionString;
        await SeedAndCloseAsync(host);

        using var output = new StringWriter();
        Assert.Equal(0, await Cli(new StatementsExportCommand(output), "--period", "2026-11"));
        var exported = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, exported.Length);

        var reader = host.Client(ApiTestHost.Token("billing:read"));
        foreach (var line in exported)
        {
            using var doc = JsonDocument.Parse(line);
            var account = doc.RootElement.GetProperty("account").GetString();
            Assert.Equal("final", doc.RootElement.GetProperty("status").GetString());
            Assert.StartsWith("st_", doc.RootElement.GetProperty("statement_id").GetString(), StringComparison.Ordinal);
            using var one = await reader.GetAsync($"/v1/accounts/{account}/statements/2026-11");
            Assert.Equal(HttpStatusCode.OK, one.StatusCode);
            Assert.Equal(line, await one.Content.ReadAsStringAsync());
        }

        // The list, two per page, is the same statements in the same (account) order.
        var admin = host.Client(ApiTestHost.Token("admin"));
        var listed = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            using var page = await admin.GetAsync($"/v1/statements?period=2026-11&limit=2{(cursor is null ? "" : "&cursor=" + cursor)}");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            var body = await ApiTestHost.Json(page);
            listed.AddRange(body.GetProperty("statements").EnumerateArray().Select(s => s.GetRawText()));
            cursor = body.GetProperty("next_cursor").GetString();
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(exported, listed);
        Assert.True(pages >= 2);
    }

    [Fact]
    public async Task The_csv_export_has_one_row_per_line_and_per_currency_total_with_the_statement_on_every_row()
    {
        await using var host = await ApiTestHost.StartAsync(_postgres, prices: Prices);
        _connection = host.Db.ConnectionString;
        await SeedAndCloseAsync(host);
        var file = Path.Combine(_dir, "november.csv");

        Assert.Equal(0, await Cli(new StatementsExportCommand(), "--period", "2026-11", "--format", "csv", "--output", file));

        var rows = File.ReadAllText(file).Split("\r\n", StringSplitOptions.RemoveEmptyEntries);
        var header = rows[0].Split(',');
        int Col(string name) => Array.IndexOf(header, name);
        var o = rows.Skip(1).Select(r => r.Split(',')).Where(r => r[Col("account")] == "acct-o").ToList();
        // acct-o: usage egress, usage requests, fee platform, commitment, total.
        Assert.Equal(["usage", "usage", "fee", "commitment", "total"], o.Select(r => r[Col("line_type")]));
        var egress = o.Single(r => r[Col("item")] == "egress");
        Assert.Equal(("30000000000", "1/1000000000 GB", "10", "20", "GB", "1.00"),
            (egress[Col("recorded_quantity")], egress[Col("recorded_unit")], egress[Col("included_units_applied")], egress[Col("billable_quantity")], egress[Col("billable_unit")], egress[Col("amount")]));
        Assert.Equal("171.00", o.Single(r => r[Col("line_type")] == "total")[Col("amount")]);
        Assert.All(o, r => Assert.Equal("final", r[Col("status")]));
        Assert.Single(o.Select(r => r[Col("statement_id")]).Distinct());
        Assert.False(File.Exists(file + ".partial"));
    }

    [Fact]
    public async Task Export_refuses_an_unknown_format_a_date_inside_a_period_and_a_missing_price_book_as_usage_errors()
    {
        await using var host = await ApiTestHost.StartAsync(_postgres, prices: Prices);
        _connection = host.Db.ConnectionString;
        await Assert.ThrowsAsync<CliUsageException>(() => Cli(new StatementsExportCommand(), "--period", "2026-11", "--format", "xml"));
        await Assert.ThrowsAsync<CliUsageException>(() => Cli(new StatementsExportCommand(), "--period", "2026-11-15"));
        var missing = await Assert.ThrowsAsync<CliUsageException>(() => new StatementsExportCommand().RunAsync(
            CliArguments.Parse(["--period", "2026-11", "--pricebook", Path.Combine(_dir, "nope.json"), "--pg", _connection!], _ => null), CancellationToken.None));
        Assert.Contains("nope.json", missing.Message, StringComparison.Ordinal);
    }

    private async Task SeedAndCloseAsync(ApiTestHost host)
    {
        await TotalAsync(host.Db, "acct-u", "requests", Nov, 5_000m, 5_000);
        await TotalAsync(host.Db, "acct-o", "requests", Nov, 15_000m, 15_000);
        await TotalAsync(host.Db, "acct-o", "egress", Nov, 30_000_000_000m, 30);
        await TotalAsync(host.Db, "acct-c", "requests", Nov, 10_000m, 10_000);
        await AccountStore.SetAsync(host.Db, new AccountTerms("acct-n", Currency.Get("USD"), "list", null, new DateTimeOffset(2026, 11, 16, 0, 0, 0, TimeSpan.Zero), null, null, null),
            "test", "mid-month start", CancellationToken.None);
        Assert.Equal(0, await Cli(new PeriodCloseCommand(), "--period", "2026-11"));
    }
}
