using System.Globalization;
using Metering.Cli.Arguments;
using Metering.Cli.Commands;
using Metering.Ledger.Corrections;
using Metering.Ledger.Migrations;
using Metering.Rating.Periods;
using Metering.Tests.Cli;
using Metering.Tests.Statements;
using Metering.Tests.Storage;
using Npgsql;

namespace Metering.Tests.Corrections;

/// <summary><c>metering correct void|amend|credit|debit</c>, <c>metering corrections list</c> and <c>metering verify</c> as a user runs them, against a real PostgreSQL ledger.</summary>
[Collection(PostgresCollection.Name)]
public sealed class CorrectionCliTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Correct_books_replays_refuses_and_lists_and_verify_accounts_for_the_corrections()
    {
        var cs = await postgres.NewDatabaseAsync();
        var work = Directory.CreateTempSubdirectory("metering-correct-").FullName;
        var eventTime = DateTimeOffset.UtcNow.AddHours(-1);
        var time = eventTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        await MigrationRunner.ApplyAsync(cs);
        await using (var db = NpgsqlDataSource.Create(cs))
        {
            // The two events corrected below, as a flush recorded them: their period total and the conservation counters
            // verify checks it against.
            await StatementLedger.TotalAsync(db, "acct-1", "api.calls", BillingPeriodRule.CalendarMonth.PeriodOf(eventTime).Start, 10m, 2);
            await using var counters = db.CreateCommand("INSERT INTO conservation (consumer_group, topic, partition, read, accepted, accepted_quantity) VALUES ('metering', 'usage', 0, 2, 2, 10)");
            await counters.ExecuteNonQueryAsync();
        }

        Task<(int Code, string Stdout, string Stderr)> Run(params string[] args) => MeteringProcess.RunAsync(work, null, [.. args, "--pg", cs]);
        string[] Void = ["correct", "void", "--account", "acct-1", "--event-id", "evt-1", "--sku", "api.calls", "--event-time", time, "--original-quantity", "5",
            "--reason", "duplicate upload", "--idempotency-key", "k-1", "--actor", "alice"];

        var created = await Run(Void);
        Assert.True(created.Code == 0, created.Stderr);
        Assert.Matches(@"^correction \d+: created: acct-1: void of event evt-1 \(sku api.calls at .*\) 5 -> 0 \(delta -5\), booked into the period starting .*, key k-1, by cli:alice at .*: duplicate upload", created.Stdout);
        var replayed = await Run(Void);
        Assert.Equal(0, replayed.Code);
        Assert.Contains(": replayed: ", replayed.Stdout, StringComparison.Ordinal);

        string[] Amend(string key, string original, string updated) => ["correct", "amend", "--account", "acct-1", "--event-id", "evt-2", "--sku", "api.calls",
            "--event-time", time, "--original-quantity", original, "--new-quantity", updated, "--reason", "meter fix", "--idempotency-key", key];
        Assert.Equal(0, (await Run(Amend("k-2", "5", "3"))).Code);
        var stale = await Run(Amend("k-3", "5", "2"));
        Assert.Equal(1, stale.Code);
        Assert.Contains("refused (quantity_mismatch): --original-quantity: event 'evt-2' has quantity 3", stale.Stderr, StringComparison.Ordinal);
        var conflict = await Run(Amend("k-2", "5", "4"));
        Assert.Equal(1, conflict.Code);
        Assert.Contains("idempotency conflict", conflict.Stderr, StringComparison.Ordinal);
        Assert.Contains("--new-quantity", conflict.Stderr, StringComparison.Ordinal);
        var beyond = await Run("correct", "void", "--account", "acct-1", "--event-id", "evt-3", "--sku", "api.calls", "--event-time", time, "--original-quantity", "4",
            "--reason", "duplicate upload", "--idempotency-key", "k-5");
        Assert.Equal(1, beyond.Code);
        Assert.Contains("refused (exceeds_recorded): --original-quantity: the ledger recorded 10 in 2 record(s) of SKU 'api.calls'", beyond.Stderr, StringComparison.Ordinal);
        Assert.Contains("3 in 1 after its earlier corrections", beyond.Stderr, StringComparison.Ordinal);

        Assert.Equal(0, (await Run("correct", "credit", "--account", "acct-1", "--amount", "10", "--currency", "USD", "--reason", "outage credit", "--idempotency-key", "k-4")).Code);

        var list = await Run("corrections", "list", "--account", "acct-1");
        Assert.Equal(0, list.Code);
        var lines = list.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("acct-1: credit of -10 USD", lines[0], StringComparison.Ordinal);
        Assert.Contains("amend of event evt-2 (sku api.calls at", lines[1], StringComparison.Ordinal);
        Assert.Contains("void of event evt-1", lines[2], StringComparison.Ordinal);

        var verify = await Run("verify");
        Assert.True(verify.Code == 0, verify.Stdout + verify.Stderr);
        Assert.Contains("corrections: 3 (amend 1, credit 1, void 1); net quantity delta per SKU: api.calls -7; net manual amount per currency: USD -10", verify.Stdout, StringComparison.Ordinal);
        Assert.Contains("verify: clean", verify.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("void", "--amount", "1")]
    [InlineData("void", "--original-quantity", "-1")]
    [InlineData("amend", "--new-quantity", "1.0000000001")]
    [InlineData("credit", "--currency", "usd")]
    [InlineData("debit", "--period", "soon")]
    [InlineData("void", "--idempotency-key", "")]
    public async Task Correct_with_a_bad_option_is_a_usage_error_naming_it_and_stores_nothing(string kind, string option, string value)
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        var args = kind is "void" or "amend"
            ? new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["--event-id"] = "evt-1", ["--sku"] = "api.calls", ["--event-time"] = "2026-11-20T10:00:00Z", ["--original-quantity"] = "5",
            }
            : new Dictionary<string, string>(StringComparer.Ordinal) { ["--amount"] = "1", ["--currency"] = "USD" };
        if (kind == "amend")
        {
            args["--new-quantity"] = "3";
        }

        args["--account"] = "acct-1";
        args["--reason"] = "r";
        args["--idempotency-key"] = "k";
        args[option] = value;
        var command = new CorrectCommand(CorrectionRequest.ParseKind(kind)!.Value, new StringWriter(), new StringWriter());
        var e = await Assert.ThrowsAsync<CliUsageException>(() => command.RunAsync(
            CliArguments.Parse([.. args.SelectMany(a => value.Length == 0 && a.Key == option ? [a.Key + "="] : new[] { a.Key, a.Value }), "--pg", cs], _ => null), CancellationToken.None));
        Assert.StartsWith(option + " ", e.Message, StringComparison.Ordinal);
        await using var db = NpgsqlDataSource.Create(cs);
        Assert.Empty((await CorrectionStore.ListAsync(db, "acct-1", null, 10, CancellationToken.None)).Corrections);
    }
}
