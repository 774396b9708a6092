using Metering.Cli.Arguments;
using Metering.Cli;
using Metering.Cli.Commands;
using Metering.Ledger.Migrations;
using Npgsql;

namespace Metering.Tests.Storage;

[Collection(PostgresCollection.Name)]
public class MigrateCommandTests(PostgresFixture postgres)
{
    private static readonly Func<string, string?> NoEnvironment = _ => null;

    private static async Task<(int Code, string Output)> Migrate(string[] args, Func<string, string?>? environment = null)
    {
        using var output = new StringWriter();
        var code = await new MigrateCommand(output).RunAsync(CliArguments.Parse(args, environment ?? NoEnvironment), CancellationToken.None);
        return (code, output.ToString());
    }

    private static async Task<long> AppliedCount(string connectionString)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM schema_migrations", c);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task Migrate_applies_every_migration_by_name_then_exits_0_with_nothing_to_do()
    {
        var db = await postgres.NewDatabaseAsync();
        var (first, firstOutput) = await Migrate(["--pg", db]);
        Assert.Equal(0, first);
        foreach (var m in MigrationRunner.Embedded())
        {
            Assert.Contains($"migrate: applied {m.Name}", firstOutput, StringComparison.Ordinal);
        }

        Assert.Equal(MigrationRunner.Embedded().Count, await AppliedCount(db));

        var (second, secondOutput) = await Migrate(["--pg", db]);
        Assert.Equal(0, second);
        Assert.DoesNotContain("migrate: applied", secondOutput, StringComparison.Ordinal);
        Assert.Contains("nothing to do", secondOutput, StringComparison.Ordinal);
        Assert.Equal(MigrationRunner.Embedded().Count, await AppliedCount(db));
    }

    [Fact]
    public async Task Migrate_takes_the_connection_string_from_METERING_PG_when_no_option_is_given()
    {
        var db = await postgres.NewDatabaseAsync();
        var environment = new Dictionary<string, string> { ["METERING_PG"] = db, ["METERING_BOOTSTRAP_SERVERS"] = "kafka:9092" };
        var (code, output) = await Migrate([], name => environment.GetValueOrDefault(name));
        Assert.Equal(0, code);
        Assert.Contains("migrate: applied 0001_ledger.sql", output, StringComparison.Ordinal);
        Assert.Equal(MigrationRunner.Embedded().Count, await AppliedCount(db));
    }

    [Fact]
    public async Task Migrate_exits_1_naming_an_applied_migration_whose_text_changed()
    {
        var db = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(db);
        await using (var c = new NpgsqlConnection(db))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand("UPDATE schema_migrations SET checksum = repeat('0', 64) WHERE version = 1", c);
            await cmd.ExecuteNonQueryAsync();
        }

        var (code, output) = await Migrate(["--pg", db]);
        Assert.Equal(1, code);
        Assert.Contains("FAILED", output, StringComparison.Ordinal);
        Assert.Contains("0001_ledger.sql", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_exits_1_when_the_server_cannot_be_reached_and_never_prints_the_password()
    {
        var (code, output) = await Migrate(["--pg", "Host=127.0.0.1;Port=1;Database=ledger;Username=u;Password=s3cret-value;Timeout=3"]);
        Assert.Equal(1, code);
        Assert.Contains("127.0.0.1:1/ledger", output, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-value", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_with_an_unknown_option_is_a_usage_error_before_anything_starts()
    {
        var db = await postgres.NewDatabaseAsync();
        using var stderr = new StringWriter();
        var code = await Program.RunAsync(["migrate", "--pg", db, "--bogus", "1"], TextWriter.Null, stderr, CancellationToken.None);
        Assert.Equal(2, code);
        Assert.Contains("--bogus", stderr.ToString(), StringComparison.Ordinal);
        await using var c = new NpgsqlConnection(db);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT to_regclass('schema_migrations') IS NULL", c);
        Assert.True((bool)(await cmd.ExecuteScalarAsync())!);
    }
}
