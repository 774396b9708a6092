using Metering.Cli;
using Metering.DevKit;
using Metering.DevKit.Postgres;
using Metering.Tests.Cli;
using Npgsql;

namespace Metering.Tests.Storage;

/// <summary>
/// Where the embedded PostgreSQL lives: a checkout the postgres OS user cannot enter (root's 0700 home, a
/// <c>mktemp -d</c> directory, which is where CI clones) must work, from a working directory that user cannot enter either.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class EmbeddedPostgresPlacementTests
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    [Fact]
    public async Task Postgres_start_works_from_a_private_0700_checkout_and_status_then_only_reports()
    {
        var checkout = Path.Combine(Path.GetTempPath(), "metering-private-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(checkout, Private);
        var pgDir = Path.Combine(checkout, ".metering", "postgres");
        var server = new EmbeddedPostgres(pgDir);
        try
        {
            var (code, stdout, stderr) = await MeteringProcess.RunAsync(checkout, null, "postgres", "start", "--data-dir", pgDir);
            Assert.True(code == 0, $"exit {code}: {stderr}");
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
            var connectionString = stdout.Trim();
            await using (var c = new NpgsqlConnection(connectionString))
            {
                await c.OpenAsync();
                await using var cmd = new NpgsqlCommand("SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user", c);
                await using var reader = await cmd.ExecuteReaderAsync();
                Assert.True(await reader.ReadAsync());
                Assert.Equal("metering", reader.GetString(0));
                Assert.False(reader.GetBoolean(1));
            }

            server = new EmbeddedPostgres(pgDir);
            if (Environment.UserName == "root")
            {
                // The postgres user cannot enter the checkout: the server lives in a directory of its own, named in server-location.
                Assert.False(server.DataDirectory.StartsWith(checkout, StringComparison.Ordinal), server.DataDirectory);
                Assert.Equal(server.ServerDirectory, File.ReadAllText(Path.Combine(pgDir, EmbeddedPostgres.LocationFileName)).Trim());
            }

            var running = await MeteringProcess.RunAsync(checkout, null, "postgres", "status", "--data-dir", pgDir);
            Assert.Equal(0, running.Code);
            Assert.Equal(connectionString, running.Stdout.Trim());

            Assert.Equal(0, (await MeteringProcess.RunAsync(checkout, null, "postgres", "stop", "--data-dir", pgDir)).Code);
            var stopped = await MeteringProcess.RunAsync(checkout, null, "postgres", "status", "--data-dir", pgDir);
            Assert.Equal(1, stopped.Code);
            Assert.Contains("stopped", stopped.Stdout, StringComparison.Ordinal);
            Assert.False((await server.StatusAsync()).Running); // status reported; it did not start the server
        }
        finally
        {
            await server.StopAsync();
            if (server.ServerDirectory != pgDir && server.ServerDirectory.StartsWith("/var/tmp/metering-postgres-", StringComparison.Ordinal))
            {
                Directory.Delete(server.ServerDirectory, recursive: true);
            }

            Directory.Delete(checkout, recursive: true);
        }
    }

    [Fact]
    public async Task A_data_directory_from_before_passwords_fails_with_one_line_saying_to_move_it_away()
    {
        // What an older version left: a cluster (trust authentication, superuser metering) and no password file.
        var dir = Path.Combine(Path.GetTempPath(), "metering-pg-legacy-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.Combine(dir, "data"));
        await File.WriteAllTextAsync(Path.Combine(dir, "data", "PG_VERSION"), "15\n");
        await File.WriteAllTextAsync(Path.Combine(dir, "port"), "1\n");
        try
        {
            using var stderr = new StringWriter();
            var code = await Program.RunAsync(["postgres", "start", "--data-dir", dir], TextWriter.Null, stderr, CancellationToken.None);
            Assert.Equal(1, code);
            var message = stderr.ToString().TrimEnd();
            Assert.DoesNotContain('\n', message);
            Assert.Contains("older metering", message, StringComparison.Ordinal);
            Assert.Contains("move it away", message, StringComparison.Ordinal);
            await Assert.ThrowsAsync<DependencyUnavailableException>(() => new EmbeddedPostgres(dir).StartAsync());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
