using Metering.Ledger.Migrations;
using Metering.Tests.Cli;
using Metering.Tests.Storage;
using Npgsql;
using static Metering.Tests.Statements.StatementLedger;

namespace Metering.Tests.Statements;

/// <summary><c>metering rerate</c> end to end: the real executable against a real ledger with November closed (<see cref="RerateTests"/>).</summary>
[Collection(PostgresCollection.Name)]
public sealed class RerateCliTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Rerate_prints_the_lines_and_totals_then_applies_once_and_replays()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using (var db = NpgsqlDataSource.Create(cs))
        {
            await RerateTests.ClosedNovemberAsync(db);
        }

        var dir = Directory.CreateTempSubdirectory("rerate-cli-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "list.json"), ListJson);
            File.WriteAllText(Path.Combine(dir, "contract.json"), ContractJson);
            File.WriteAllText(Path.Combine(dir, "draft.json"), RerateTests.DraftJson);
            string[] common = ["rerate", "--period", "2026-11", "--pricebook", "draft.json", "--contracts", "contract.json", "--billing-pricebook", "list.json",
                "--billing-contracts", "contract.json", "--pg", cs];

            var preview = await MeteringProcess.RunAsync(dir, null, common);
            Assert.True(preview.Code == 0, $"exit {preview.Code}: {preview.Stderr}");
            var lines = preview.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains("acct-o  usage requests  quantity 0  150.00 -> 120.00 USD  -30.00", lines);
            Assert.Contains("acct-u  usage requests  quantity 0  50.00 -> 40.00 USD  -10.00", lines);
            Assert.Contains("acct-u  commitment_true_up  50.00 -> 60.00 USD  +10.00", lines);
            Assert.Contains("acct-u  total  0.00 USD", lines);
            Assert.Contains("total  -30.00 USD", lines);
            Assert.Contains(lines, l => l.EndsWith("4 account(s) compared, 2 changed, 2 no change", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.StartsWith("nothing written", StringComparison.Ordinal));

            var apply = await MeteringProcess.RunAsync(dir, null, [.. common, "--apply", "--reason", "requests repriced", "--idempotency-key", "cli-1"]);
            Assert.True(apply.Code == 0, $"exit {apply.Code}: {apply.Stderr}");
            Assert.Contains("applied: batch cli-1: 3 line(s) booked into period 2026-12-01", apply.Stdout, StringComparison.Ordinal);

            var replay = await MeteringProcess.RunAsync(dir, null, [.. common, "--apply", "--reason", "requests repriced", "--idempotency-key", "cli-1", "--format", "json"]);
            Assert.True(replay.Code == 0, $"exit {replay.Code}: {replay.Stderr}");
            using (var json = System.Text.Json.JsonDocument.Parse(replay.Stdout))
            {
                Assert.True(json.RootElement.GetProperty("applied").GetProperty("replay").GetBoolean());
                Assert.Equal(3, json.RootElement.GetProperty("applied").GetProperty("lines_booked").GetInt32());
            }

            var twice = await MeteringProcess.RunAsync(dir, null, [.. common, "--apply", "--reason", "again"]);
            Assert.Equal(1, twice.Code);
            Assert.Contains("already re-rated", twice.Stderr, StringComparison.Ordinal);

            var open = await MeteringProcess.RunAsync(dir, null, ["rerate", "--period", "2026-12", "--pricebook", "draft.json", "--billing-pricebook", "list.json", "--pg", cs]);
            Assert.Equal(1, open.Code);
            Assert.Contains("is open", open.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", open.Stderr, StringComparison.Ordinal);

            var usage = await MeteringProcess.RunAsync(dir, null, ["rerate", "--period", "2026-11", "--pricebook", "draft.json", "--reason", "x", "--pg", cs]);
            Assert.Equal(2, usage.Code);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
