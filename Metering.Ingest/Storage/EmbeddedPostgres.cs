using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Metering.Ingest.Storage;

/// <summary>
/// A private PostgreSQL server started from the machine's server binaries, in a data directory of the engine's own
/// (default <c>.metering/postgres</c>), used when no connection string is configured.
/// <list type="bullet">
/// <item>First start: <c>initdb</c> (trust authentication, UTF-8), a free port chosen and recorded in <c>port</c>,
/// listening on 127.0.0.1 only, its socket inside the data directory.</item>
/// <item>Later starts reuse it: a running server (left by an engine killed with SIGKILL) is found with
/// <c>pg_ctl status</c> and reused as is; a stopped one (even with a stale postmaster.pid after a crash) is started
/// again on the recorded port; PostgreSQL's own crash recovery makes it consistent.</item>
/// <item>As root, the server runs as the <c>postgres</c> OS user (PostgreSQL refuses root); the data directory is
/// handed to that user.</item>
/// </list>
/// Not thread-safe; one instance per data directory per process.
/// </summary>
public sealed class EmbeddedPostgres
{
    private const string User = "metering";
    private readonly string _root;
    private readonly string _data;
    private readonly string _bin;
    private readonly bool _asRoot = Environment.UserName == "root";

    /// <summary>Locates the server binaries; throws naming what to install when they are missing.</summary>
    public EmbeddedPostgres(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _root = Path.GetFullPath(directory);
        _data = Path.Combine(_root, "data");
        _bin = FindBinaries() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; install them (apt-get install postgresql-15) or configure a connection string");
    }

    /// <summary>The TCP port (known after <see cref="StartAsync"/>).</summary>
    public int Port { get; private set; }

    /// <summary>Connection string to the <c>metering</c> database (known after <see cref="StartAsync"/>).</summary>
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username={User};Database=metering;Timeout=15;Command Timeout=60";

    /// <summary>Connection string to another database of the same server.</summary>
    public string ConnectionStringFor(string database) => $"Host=127.0.0.1;Port={Port};Username={User};Database={database};Timeout=15;Command Timeout=60";

    /// <summary>Initializes on first use, then starts the server or reuses the running one. Returns true when it was already running.</summary>
    public async Task<bool> StartAsync(CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(_root);
        var portFile = Path.Combine(_root, "port");
        if (!File.Exists(Path.Combine(_data, "PG_VERSION")))
        {
            await InitializeAsync(cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(portFile, FreePort().ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        }

        Port = int.Parse((await File.ReadAllTextAsync(portFile, cancellationToken).ConfigureAwait(false)).Trim(), CultureInfo.InvariantCulture);
        if (await RunAsync("pg_ctl", ["status", "-D", _data], cancellationToken, allowFailure: true).ConfigureAwait(false) == 0)
        {
            if (await AcceptsConnectionsAsync(cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            // pg_ctl believes the postmaster lives, but it does not answer: after a SIGKILL its PID can linger as
            // an unreaped zombie (containers without an init that reaps). A zombie or vanished PID means the
            // lock file is stale; PostgreSQL's crash recovery takes over on the next start.
            RemoveStaleLockFile();
        }

        var options = $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={_root} -c fsync=on -c max_connections=200 -c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=15min -c wal_buffers=16MB";
        var code = await RunAsync("pg_ctl", ["start", "-D", _data, "-w", "-t", "60", "-l", Path.Combine(_root, "postgres.log"), "-o", options], cancellationToken, allowFailure: true).ConfigureAwait(false);
        if (code != 0)
        {
            var log = File.Exists(Path.Combine(_root, "postgres.log")) ? string.Join('\n', File.ReadLines(Path.Combine(_root, "postgres.log")).TakeLast(15)) : "(no log)";
            throw new InvalidOperationException($"PostgreSQL did not start in {_data} on port {Port} (pg_ctl exit {code}); last log lines:\n{log}");
        }

        await EnsureDatabaseAsync("metering", cancellationToken).ConfigureAwait(false);
        return false;
    }

    private async Task<bool> AcceptsConnectionsAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            try
            {
                await using var connection = new Npgsql.NpgsqlConnection(ConnectionStringFor("postgres") + ";Timeout=2");
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (Npgsql.NpgsqlException)
            {
                await Task.Delay(300, cancellationToken).ConfigureAwait(false);
            }
        }

        return false;
    }

    private void RemoveStaleLockFile()
    {
        var lockFile = Path.Combine(_data, "postmaster.pid");
        if (!File.Exists(lockFile))
        {
            return;
        }

        var pid = File.ReadLines(lockFile).FirstOrDefault()?.Trim();
        var stat = $"/proc/{pid}/stat";
        var alive = File.Exists(stat) && File.ReadAllText(stat).Split(' ') is [_, _, var state, ..] && state != "Z";
        if (!alive)
        {
            File.Delete(lockFile);
        }
    }

    /// <summary>
    /// Stops the server: a fast shutdown (active transactions roll back, committed data is safe), or with
    /// <paramref name="immediate"/> an abort like a crash (no checkpoint; the next start runs crash recovery).
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken = default, bool immediate = false) =>
        RunAsync("pg_ctl", ["stop", "-D", _data, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60"], cancellationToken, allowFailure: true);

    /// <summary>Creates <paramref name="database"/> unless it exists.</summary>
    public async Task EnsureDatabaseAsync(string database, CancellationToken cancellationToken = default)
    {
        await using var connection = new Npgsql.NpgsqlConnection(ConnectionStringFor("postgres"));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var exists = new Npgsql.NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            await using var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_data);
        if (_asRoot)
        {
            await Process("chown", ["-R", "postgres:postgres", _root], cancellationToken).ConfigureAwait(false);
        }

        await RunAsync("initdb", ["-D", _data, "-U", User, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"], cancellationToken).ConfigureAwait(false);
    }

    private static string? FindBinaries()
    {
        const string Root = "/usr/lib/postgresql";
        if (!Directory.Exists(Root))
        {
            return null;
        }

        return Directory.GetDirectories(Root)
            .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : 0))
            .Where(d => File.Exists(Path.Combine(d.Dir, "bin", "initdb")) && File.Exists(Path.Combine(d.Dir, "bin", "pg_ctl")))
            .OrderByDescending(d => d.Version)
            .Select(d => Path.Combine(d.Dir, "bin"))
            .FirstOrDefault();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs a PostgreSQL binary, as the postgres user when we are root.</summary>
    private Task<int> RunAsync(string tool, IReadOnlyList<string> args, CancellationToken cancellationToken, bool allowFailure = false)
    {
        var path = Path.Combine(_bin, tool);
        return _asRoot
            ? Process("runuser", ["-u", "postgres", "--", path, .. args], cancellationToken, allowFailure)
            : Process(path, args, cancellationToken, allowFailure);
    }

    private static async Task<int> Process(string file, IReadOnlyList<string> args, CancellationToken cancellationToken, bool allowFailure = false)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = System.Diagnostics.Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} {string.Join(' ', args)} failed (exit {process.ExitCode}): {(await stderr.ConfigureAwait(false)).Trim()} {(await stdout.ConfigureAwait(false)).Trim()}");
        }

        return process.ExitCode;
    }
}
