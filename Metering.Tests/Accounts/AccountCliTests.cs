using Metering.Cli.Arguments;
using Metering.Cli.Commands;
using Metering.Ledger.Accounts;
using Metering.Ledger.Migrations;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Accounts;

/// <summary><c>metering account set</c> and <c>metering account list</c> against a real PostgreSQL ledger.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AccountCliTests(PostgresFixture postgres)
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    [Fact]
    public async Task Account_set_creates_then_is_unchanged_then_updates_and_list_prints_every_account_in_order()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        Task<int> Run(ICliCommand command, params string[] args) => command.RunAsync(CliArguments.Parse([.. args, "--pg", cs], NoEnvironment), CancellationToken.None);
        string[] Berlin = ["--account", "acct-b", "--currency", "EUR", "--list-book", "edge-list", "--contract-book", "acct-b-contract",
            "--start", "2026-11-15T00:00:00+01:00", "--time-zone", "Europe/Berlin", "--anchor-day", "15", "--reason", "onboarding"];

        var output = new StringWriter();
        Assert.Equal(0, await Run(new AccountSetCommand(output), Berlin));
        Assert.Equal(0, await Run(new AccountSetCommand(output), Berlin));
        Assert.Equal(0, await Run(new AccountSetCommand(output), [.. Berlin[..^2], "--end", "2027-01-01T00:00:00Z", "--reason", "fixed term"]));
        Assert.Equal(0, await Run(new AccountSetCommand(output), "--account", "acct-a", "--currency", "USD", "--list-book", "edge-list", "--start", "2026-12-01T00:00:00Z"));
        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("account acct-b: created: EUR, list book edge-list, contract book acct-b-contract, from 2026-11-14T23:00:00Z, periods from day 15 at 00:00 Europe/Berlin", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("account acct-b: unchanged:", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("account acct-b: updated: EUR, list book edge-list, contract book acct-b-contract, from 2026-11-14T23:00:00Z to 2027-01-01T00:00:00Z", lines[2], StringComparison.Ordinal);
        Assert.StartsWith("account acct-a: created: USD, list book edge-list, from 2026-12-01T00:00:00Z, periods of the list book", lines[3], StringComparison.Ordinal);

        await using (var db = NpgsqlDataSource.Create(cs))
        {
            var changes = await AccountStore.ChangesAsync(db, "acct-b", CancellationToken.None);
            Assert.Equal(["created", "updated"], changes.Select(c => c.Change));
            Assert.Equal("fixed term", changes[1].Reason);
            Assert.StartsWith("cli:", changes[1].Actor, StringComparison.Ordinal);
        }

        var list = new StringWriter();
        Assert.Equal(0, await Run(new AccountListCommand(list)));
        var listed = list.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, listed.Length);
        Assert.StartsWith("acct-a: USD, list book edge-list", listed[0], StringComparison.Ordinal);
        Assert.StartsWith("acct-b: EUR, list book edge-list, contract book acct-b-contract", listed[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--anchor-day", "29")]
    [InlineData("--anchor-day", "fifteen")]
    [InlineData("--time-zone", "Europe/Atlantis")]
    [InlineData("--currency", "usd")]
    [InlineData("--end", "2026-11-01T00:00:00Z")]
    [InlineData("--list-book", "edge list")]
    public async Task Account_set_with_a_bad_option_is_a_usage_error_naming_it_and_stores_nothing(string option, string value)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var args = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["--account"] = "acct-x", ["--currency"] = "USD", ["--list-book"] = "edge-list", ["--start"] = "2026-11-01T00:00:00Z", [option] = value,
        };
        var e = await Assert.ThrowsAsync<CliUsageException>(() => new AccountSetCommand(new StringWriter()).RunAsync(
            CliArguments.Parse([.. args.SelectMany(a => new[] { a.Key, a.Value }), "--pg", cs], NoEnvironment), CancellationToken.None));
        Assert.StartsWith(option + " ", e.Message, StringComparison.Ordinal);
        await using var db = NpgsqlDataSource.Create(cs);
        Assert.Empty((await AccountStore.ListAsync(db, null, 10, CancellationToken.None)).Accounts);
    }
}
