using System.Diagnostics;
using Metering.DevKit.Postgres;
using Npgsql;

namespace Metering.Tests.Storage;

public class EmbeddedPostgresCrashTests
{
    [Fact]
    public async Task A_postmaster_killed_with_sigkill_is_recovered_on_the_next_start_with_committed_data()
    {
        var dir = Path.Combine(Path.GetTempPath(), "metering-pg-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var server = new EmbeddedPostgres(dir);
        await server.StartAsync();
        try
        {
            await using (var c = new NpgsqlConnection(server.ConnectionString))
            {
                await c.OpenAsync();
                await using var cmd = new NpgsqlCommand("CREATE TABLE t (v int); INSERT INTO t VALUES (42);", c);
                await cmd.ExecuteNonQueryAsync();
            }

            var pid = int.Parse(File.ReadLines(Path.Combine(server.DataDirectory, "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
            Process.GetProcessById(pid).Kill();
            NpgsqlConnection.ClearAllPools(); // pooled connections died with the server
            await Task.Delay(500);

            var restarted = new EmbeddedPostgres(dir);
            Assert.False(await restarted.StartAsync()); // it was not running: started again, not reused
            Assert.Equal(server.Port, restarted.Port);
            await using var again = new NpgsqlConnection(restarted.ConnectionString);
            await again.OpenAsync();
            await using var read = new NpgsqlCommand("SELECT v FROM t", again);
            Assert.Equal(42, await read.ExecuteScalarAsync());
        }
        finally
        {
            await server.StopAsync();
            Directory.Delete(dir, recursive: true);
        }
    }
}
