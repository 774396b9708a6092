using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Metering.Ledger.Migrations;

/// <summary>
/// Applies the versioned SQL migrations embedded in this assembly (<c>Migrations/NNNN_name.sql</c>) in order,
/// each in its own transaction, under a PostgreSQL advisory lock so that engines starting together apply each once.
/// Applied migrations are recorded in <c>schema_migrations</c> with a SHA-256 checksum; a migration whose text
/// changed after it was applied is refused with an error naming it (write a new migration instead).
/// Idempotent: running again applies nothing.
/// </summary>
public static class MigrationRunner
{
    private const long LockKey = 0x4D455445_52494E47; // "METERING"

    /// <summary>One migration: version, name and SQL.</summary>
    public sealed record Migration(int Version, string Name, string Sql)
    {
        /// <summary>SHA-256 of the SQL text.</summary>
        public string Checksum => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Sql)));
    }

    /// <summary>The migrations shipped with the engine, ordered by version.</summary>
    public static IReadOnlyList<Migration> Embedded()
    {
        var assembly = typeof(MigrationRunner).Assembly;
        var list = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.EndsWith(".sql", StringComparison.Ordinal)))
        {
            var file = resource[(resource.LastIndexOf("Migrations.", StringComparison.Ordinal) + "Migrations.".Length)..];
            var version = int.Parse(file[..4], System.Globalization.CultureInfo.InvariantCulture);
            using var reader = new StreamReader(assembly.GetManifestResourceStream(resource)!);
            list.Add(new Migration(version, file, reader.ReadToEnd()));
        }

        return [.. list.OrderBy(m => m.Version)];
    }

    /// <summary>Applies <paramref name="migrations"/> (default: the embedded ones); returns the versions applied now.</summary>
    public static async Task<IReadOnlyList<int>> ApplyAsync(string connectionString, IReadOnlyList<Migration>? migrations = null, CancellationToken cancellationToken = default)
    {
        migrations ??= Embedded();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await Execute(connection, null, "SELECT pg_advisory_lock($1)", cancellationToken, LockKey).ConfigureAwait(false);
        try
        {
            await Execute(connection, null, """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, cancellationToken).ConfigureAwait(false);
            var applied = new Dictionary<int, (string Name, string Checksum)>();
            await using (var cmd = new NpgsqlCommand("SELECT version, name, checksum FROM schema_migrations", connection))
            await using (var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    applied[reader.GetInt32(0)] = (reader.GetString(1), reader.GetString(2));
                }
            }

            var done = new List<int>();
            foreach (var m in migrations)
            {
                if (applied.TryGetValue(m.Version, out var existing))
                {
                    if (existing.Checksum != m.Checksum)
                    {
                        throw new InvalidOperationException(
                            $"migration {m.Name} changed after it was applied as '{existing.Name}' (checksum {existing.Checksum[..12]}… vs {m.Checksum[..12]}…); add a new migration instead of editing an applied one");
                    }

                    continue;
                }

                await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await Execute(connection, tx, m.Sql, cancellationToken).ConfigureAwait(false);
                await Execute(connection, tx, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", cancellationToken, m.Version, m.Name, m.Checksum).ConfigureAwait(false);
                await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
                done.Add(m.Version);
            }

            return done;
        }
        finally
        {
            await Execute(connection, null, "SELECT pg_advisory_unlock($1)", CancellationToken.None, LockKey).ConfigureAwait(false);
        }
    }

    private static async Task Execute(NpgsqlConnection connection, NpgsqlTransaction? tx, string sql, CancellationToken cancellationToken, params object[] parameters)
    {
        await using var cmd = new NpgsqlCommand(sql, connection, tx);
        foreach (var p in parameters)
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = p });
        }

        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
