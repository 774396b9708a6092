using Metering.Ledger.Accounts;
using Metering.Ledger.Migrations;
using Metering.Rating.Accounts;
using Metering.Tests.Storage;
using Metering.Web.Api;
using Npgsql;

namespace Metering.Tests.Accounts;

/// <summary><c>AccountStore</c> and the <c>accounts</c> table's CHECKs against a real PostgreSQL.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AccountStoreTests(PostgresFixture postgres)
{
    private static AccountTerms Terms(string account, string currency = "USD") =>
        AccountTerms.Validate(new AccountTermsInput(account, currency, "edge-list", null, "2026-11-01T00:00:00.123456Z", null, null, null), UsageRequest.IdentifierProblem).Terms!;

    [Fact]
    public async Task Concurrent_sets_of_a_new_account_create_it_once_and_the_rest_are_unchanged()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        var writes = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => AccountStore.SetAsync(db, Terms("acct-race"), "test", null, CancellationToken.None))));
        Assert.Equal(1, writes.Count(w => w.Status == AccountWriteStatus.Created));
        Assert.Equal(7, writes.Count(w => w.Status == AccountWriteStatus.Unchanged));
        Assert.Single(await AccountStore.ChangesAsync(db, "acct-race", CancellationToken.None));
        // Microseconds survive the round trip, so the stored terms compare equal to the written ones.
        Assert.Equal(Terms("acct-race"), (await AccountStore.GetAsync(db, "acct-race", CancellationToken.None))!.Terms);
    }

    [Theory]
    [InlineData("anchor_day", "INSERT INTO accounts (account, currency, list_book, subscription_start, anchor_day) VALUES ('a', 'USD', 'b', now(), 29)")]
    [InlineData("end", "INSERT INTO accounts (account, currency, list_book, subscription_start, subscription_end) VALUES ('a', 'USD', 'b', now(), now())")]
    [InlineData("currency", "INSERT INTO accounts (account, currency, list_book, subscription_start) VALUES ('a', 'usd', 'b', now())")]
    [InlineData("account", "INSERT INTO accounts (account, currency, list_book, subscription_start) VALUES (repeat('x', 129), 'USD', 'b', now())")]
    [InlineData("list_book", "INSERT INTO accounts (account, currency, list_book, subscription_start) VALUES ('a', 'USD', 'a/b', now())")]
    public async Task The_table_refuses_rows_the_api_would_refuse(string field, string sql)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using var db = NpgsqlDataSource.Create(cs);
        await using var cmd = db.CreateCommand(sql);
        var e = await Assert.ThrowsAsync<PostgresException>(() => cmd.ExecuteNonQueryAsync());
        Assert.True(e.SqlState == PostgresErrorCodes.CheckViolation, $"{field}: {e.SqlState} {e.MessageText}");
    }
}
