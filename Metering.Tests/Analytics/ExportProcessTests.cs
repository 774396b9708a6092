using System.Diagnostics;
using Metering.Ledger.Migrations;
using Metering.Tests.Storage;

namespace Metering.Tests.Analytics;

/// <summary>The export command as its own process: chDB opened and closed there, and the process exits promptly.</summary>
[Collection(PostgresCollection.Name)]
public sealed class ExportProcessTests(PostgresFixture postgres)
{
    [Fact]
    public async Task Metering_export_process_moves_the_outbox_and_exits_without_hanging()
    {
        var cs = await postgres.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(cs);
        await using (var db = Npgsql.NpgsqlDataSource.Create(cs))
        {
            await OutboxSeeder.SeedAsync(db, 200, seed: 41);
        }

        var dir = Path.Combine(Path.GetTempPath(), "metering-export-proc-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "metering.dll"), "export", "--pg", cs, "--clickhouse-dir", dir })
            {
                start.ArgumentList.Add(a);
            }

            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail("metering export did not exit within 60 s (chDB connection left open?)");
            }

            Assert.True(process.ExitCode == 0, await stderr);
            Assert.Contains("export: 200 rows in 1 batch(es)", await stdout, StringComparison.Ordinal);
        }
        finally
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // best effort
            }
        }
    }
}
