using Npgsql;

namespace Metering.Tests.Storage;

/// <summary>The embedded server's authentication: a password over TCP, and a role that is not a superuser.</summary>
[Collection(PostgresCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class EmbeddedPostgresAuthTests(PostgresFixture postgres)
{
    [Fact]
    public async Task The_engine_connects_as_metering_which_is_not_a_superuser_and_owns_the_databases_it_creates()
    {
        var db = await postgres.NewDatabaseAsync();
        await using var c = new NpgsqlConnection(db);
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(
            "SELECT current_user, r.rolsuper, r.rolcreatedb, pg_get_userbyid(d.datdba) FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = current_database()", c);
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("metering", reader.GetString(0));
        Assert.False(reader.GetBoolean(1));
        Assert.True(reader.GetBoolean(2));
        Assert.Equal("metering", reader.GetString(3));
    }

    [Fact]
    public async Task Tcp_connections_are_refused_without_the_generated_password()
    {
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(postgres.Server.PasswordFile));
        var noPassword = new NpgsqlConnectionStringBuilder(postgres.Server.ConnectionString) { Passfile = null, Pooling = false };
        await using (var c = new NpgsqlConnection(noPassword.ConnectionString))
        {
            await Assert.ThrowsAnyAsync<NpgsqlException>(() => c.OpenAsync());
        }

        foreach (var user in new[] { "metering", "postgres" })
        {
            var wrong = new NpgsqlConnectionStringBuilder(postgres.Server.ConnectionString) { Passfile = null, Username = user, Password = "not-the-password", Pooling = false };
            await using var c = new NpgsqlConnection(wrong.ConnectionString);
            var error = await Assert.ThrowsAsync<PostgresException>(() => c.OpenAsync());
            Assert.Equal(PostgresErrorCodes.InvalidPassword, error.SqlState);
        }
    }
}
