using Metering.DevKit.Postgres;
using Metering.Ledger.Migrations;
using Npgsql;

namespace Metering.Tests.Storage;

[Collection(PostgresCollection.Name)]
public class MigrationTests(PostgresFixture postgres)
{
    private static async Task<List<string>> Tables(string connectionString)
    {
        await using var c = new NpgsqlConnection(connectionString);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1", c);
        await using var r = await cmd.ExecuteReaderAsync();
        var names = new List<string>();
        while (await r.ReadAsync())
        {
            names.Add(r.GetString(0));
        }

        return names;
    }

    [Fact]
    public async Task Migrations_create_the_ledger_and_a_second_run_applies_nothing()
    {
        var db = await postgres.NewDatabaseAsync();
        var first = await MigrationRunner.ApplyAsync(db);
        var second = await MigrationRunner.ApplyAsync(db);
        Assert.Equal(MigrationRunner.Embedded().Select(m => m.Version), first);
        Assert.Empty(second);
        Assert.Equal(
            ["account_changes", "accounts", "adjustments", "alerts", "billing_period_totals", "booked_adjustments", "closed_periods", "closed_rule_periods", "conservation", "consumed_offsets", "corrections", "dead_letters", "meter_state_deltas", "meter_states", "offset_gaps", "price_book_registry", "price_book_versions", "quotas", "rated_window_blobs", "rated_windows", "rerate_batches", "schema_migrations", "seen_id_batches", "seen_id_blocks", "statements", "usage_transactions"],
            await Tables(db));
    }

    [Fact]
    public async Task Engines_starting_together_apply_each_migration_once()
    {
        var db = await postgres.NewDatabaseAsync();
        var runs = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => MigrationRunner.ApplyAsync(db)));
        Assert.Equal(MigrationRunner.Embedded().Count, runs.Sum(r => r.Count));
    }

    [Fact]
    public async Task An_applied_migration_whose_text_changed_is_refused_by_name()
    {
        var db = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(db);
        var tampered = MigrationRunner.Embedded().Select(m => m.Version == 1 ? m with { Sql = m.Sql + "\n-- edited" } : m).ToList();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => MigrationRunner.ApplyAsync(db, tampered));
        Assert.Contains("0001_ledger.sql", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_second_engine_start_reuses_the_running_server_on_the_same_port()
    {
        var again = new EmbeddedPostgres(postgres.Directory);
        Assert.True(await again.StartAsync()); // already running: reused, not restarted
        Assert.Equal(postgres.Server.Port, again.Port);
        await using var c = new NpgsqlConnection(again.ConnectionString);
        await c.OpenAsync();
    }
}
