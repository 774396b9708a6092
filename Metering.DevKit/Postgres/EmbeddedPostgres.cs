using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;

namespace Metering.DevKit.Postgres;

/// <summary>
/// A private PostgreSQL server started from the machine's server binaries, used when no connection string is
/// configured. The configured directory (default <c>.metering/postgres</c>) names the server; where it lives:
/// <list type="bullet">
/// <item>The server's directory (data directory <c>data/</c>, <c>port</c>, <c>postgres.log</c>, the Unix socket and
/// the password file) is the configured directory itself when the server's OS user can enter it and its path is short
/// and plain (the socket path must fit 107 bytes and the path goes into server options). Otherwise, e.g. a checkout
/// under root's 0700 home or a <c>mktemp -d</c> directory, it is <c>/var/tmp/metering-postgres-HASH</c> (HASH from
/// the configured path and the server's OS user), and the configured directory holds <c>server-location</c> naming it.
/// Either way the server's directory is created by us, owned by the server's OS user, mode 0700.</item>
/// <item>First start: <c>initdb</c> (UTF-8) with a superuser named after the server's OS user that logs in over the
/// Unix socket only (peer: that OS user only), TCP on 127.0.0.1 only with <c>scram-sha-256</c>; then the role
/// <c>metering</c> (LOGIN, CREATEDB, not a superuser) with a generated password kept in <c>.metering-password</c>
/// (one pgpass line, 0600). The engine connects as <c>metering</c> (the connection string names the file through
/// <c>Passfile</c>, so it never holds the password) and owns the databases it creates.</item>
/// <item>Later starts reuse it: a running server (left by an engine killed with SIGKILL) is found with
/// <c>pg_ctl status</c> and reused as is; a stopped one (even with a stale postmaster.pid after a crash) is started
/// again on the recorded port; PostgreSQL's own crash recovery makes it consistent. A role or password that does not
/// match the file (an interrupted first start) is set again over the socket.</item>
/// <item>A data directory created by a version before passwords (trust authentication, superuser <c>metering</c>)
/// is not converted: starting it fails with one line saying to move it away.</item>
/// <item>As root, the server runs as the <c>postgres</c> OS user (PostgreSQL refuses root); every server binary runs
/// with the server's directory as its working directory, since initdb and pg_ctl fail in one that user cannot enter.</item>
/// </list>
/// Failures to start are <see cref="DependencyUnavailableException"/> with a one-line message.
/// Not thread-safe; one instance per directory per process.
/// </summary>
public sealed partial class EmbeddedPostgres
{
    /// <summary>The role the engine connects as: LOGIN, CREATEDB, not a superuser.</summary>
    public const string Role = "metering";

    /// <summary>The password file in the server's directory: <c>*:*:*:metering:PASSWORD</c> (pgpass format), mode 0600.</summary>
    public const string PasswordFileName = ".metering-password";

    /// <summary>In the configured directory when the server lives elsewhere: the server directory's path.</summary>
    public const string LocationFileName = "server-location";

    // sun_path holds 108 bytes including the terminating NUL; the socket is "<dir>/.s.PGSQL.<port>".
    private const int MaxSocketPathBytes = 107;

    private readonly string _root;
    private readonly string _fallback;
    private readonly string _bin;
    private readonly bool _asRoot = Environment.UserName == "root";
    private readonly string _serverUser;
    private string _home;

    /// <summary>Locates the server binaries and an existing cluster; throws naming what to install when binaries are missing.</summary>
    public EmbeddedPostgres(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _root = Path.GetFullPath(directory);
        _bin = FindBinaries() ?? throw new DependencyUnavailableException(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install them (apt-get install postgresql-15; scripts/*.sh do it) or give --pg CONNECTION_STRING");
        _serverUser = _asRoot ? "postgres" : Environment.UserName;
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(_serverUser + "\0" + _root)))[..16];
        _fallback = Path.Combine("/var/tmp", "metering-postgres-" + hash);
        _home = IsInitialized(_fallback) && !IsInitialized(_root) ? _fallback : _root;
    }

    /// <summary>The directory the server lives in: the configured one, or a private one under /var/tmp (see the class summary).</summary>
    public string ServerDirectory => _home;

    /// <summary>The cluster's data directory (PGDATA) inside <see cref="ServerDirectory"/>.</summary>
    public string DataDirectory => Path.Combine(_home, "data");

    /// <summary>The password file of the <c>metering</c> role.</summary>
    public string PasswordFile => Path.Combine(_home, PasswordFileName);

    /// <summary>The TCP port (known after <see cref="StartAsync"/>).</summary>
    public int Port { get; private set; }

    /// <summary>Connection string to the <c>metering</c> database (known after <see cref="StartAsync"/>); holds no password.</summary>
    public string ConnectionString => ConnectionStringFor("metering");

    /// <summary>Connection string to another database of the same server, as the <c>metering</c> role; holds no password.</summary>
    public string ConnectionStringFor(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = Role,
        Passfile = PasswordFile,
        Database = database,
        Timeout = 15,
        CommandTimeout = 60,
    }.ConnectionString;

    /// <summary>Initializes on first use, then starts the server or reuses the running one. Returns true when it was already running.</summary>
    public async Task<bool> StartAsync(CancellationToken cancellationToken = default)
    {
        if (IsInitialized(_root) || IsInitialized(_fallback))
        {
            _home = IsInitialized(_root) ? _root : _fallback;
        }
        else
        {
            _home = await ChooseServerDirectoryAsync(cancellationToken).ConfigureAwait(false);
            await InitializeAsync(cancellationToken).ConfigureAwait(false);
        }

        if (!File.Exists(PasswordFile))
        {
            throw new DependencyUnavailableException(
                $"the embedded PostgreSQL in {_home} was created by an older metering (trust authentication, no {PasswordFileName}) and is not converted: move it away (metering postgres stop --data-dir {_root}; mv {_home} {_home}.old) and start again for a new one, or give --pg for it");
        }

        _ = ReadPassword(); // a damaged file is named here, not in a pgpass parse error of the driver
        Port = ReadPort();
        if (await RunAsync("pg_ctl", ["status", "-D", DataDirectory], cancellationToken, allowFailure: true).ConfigureAwait(false) == 0)
        {
            var answer = await ProbeAsync(cancellationToken).ConfigureAwait(false);
            if (answer is not null)
            {
                if (answer == false)
                {
                    await CreateRoleAsync(cancellationToken).ConfigureAwait(false);
                }

                return true;
            }

            // pg_ctl believes the postmaster lives, but it does not answer: after a SIGKILL its PID can linger as
            // an unreaped zombie (containers without an init that reaps). A zombie or vanished PID means the
            // lock file is stale; PostgreSQL's crash recovery takes over on the next start.
            RemoveStaleLockFile();
        }

        var log = Path.Combine(_home, "postgres.log");
        // recovery_init_sync_method=syncfs: after a crash, PostgreSQL first fsyncs every file of the data directory
        // (one fsync per file: over 50 s seen with a few hundred test databases on a loaded 2-core machine, longer than
        // the start timeout); one syncfs of the file system is as safe and takes a moment.
        var options = $"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={_home} -c fsync=on -c recovery_init_sync_method=syncfs -c max_connections=200 -c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=15min -c wal_buffers=16MB";
        var code = await RunAsync("pg_ctl", ["start", "-D", DataDirectory, "-w", "-t", "120", "-l", log, "-o", options], cancellationToken, allowFailure: true).ConfigureAwait(false);
        if (code != 0)
        {
            var lines = File.Exists(log) ? File.ReadLines(log).TakeLast(15).ToList() : [];
            var cause = lines.LastOrDefault(l => l.Contains("FATAL", StringComparison.Ordinal) || l.Contains("ERROR", StringComparison.Ordinal)) ?? lines.LastOrDefault() ?? "no log written";
            var hint = cause.Contains("already in use", StringComparison.Ordinal)
                ? $"another program holds port {Port}: stop it, or write a free port into {Path.Combine(_home, "port")}"
                : $"see {log}";
            throw new DependencyUnavailableException($"the embedded PostgreSQL in {DataDirectory} did not start on port {Port} (pg_ctl exit {code}): {cause.Trim()}; {hint}");
        }

        if (await ProbeAsync(cancellationToken).ConfigureAwait(false) != true)
        {
            await CreateRoleAsync(cancellationToken).ConfigureAwait(false);
        }

        await EnsureDatabaseAsync("metering", cancellationToken).ConfigureAwait(false);
        return false;
    }

    /// <summary>Reports whether a cluster exists and its server runs; starts and creates nothing.</summary>
    public async Task<EmbeddedPostgresStatus> StatusAsync(CancellationToken cancellationToken = default)
    {
        if (!IsInitialized(_home))
        {
            return new EmbeddedPostgresStatus(false, false, DataDirectory, 0);
        }

        var port = File.Exists(Path.Combine(_home, "port")) ? ReadPort() : 0;
        Port = port;
        var running = await RunAsync("pg_ctl", ["status", "-D", DataDirectory], cancellationToken, allowFailure: true).ConfigureAwait(false) == 0;
        return new EmbeddedPostgresStatus(true, running, DataDirectory, port);
    }

    /// <summary>
    /// Connects as <see cref="Role"/>: true when it works, false when the server answers but refuses the role or its
    /// password (role not created yet, or the file was replaced), null when it does not answer within a few seconds.
    /// </summary>
    private async Task<bool?> ProbeAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionStringFor("postgres") + ";Timeout=2;Pooling=false");
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification)
            {
                return false;
            }
            catch (NpgsqlException)
            {
                await Task.Delay(300, cancellationToken).ConfigureAwait(false);
            }
        }

        return null;
    }

    /// <summary>Creates the <c>metering</c> role, or sets its attributes and password again, as the superuser over the socket.</summary>
    private async Task CreateRoleAsync(CancellationToken cancellationToken)
    {
        var password = ReadPassword();
        var sql = $"""
            DO $$BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{Role}') THEN CREATE ROLE {Role}; END IF;
            END$$;
            ALTER ROLE {Role} WITH LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD '{password}';
            """;
        // The SQL goes in on stdin: a password on psql's command line would be visible in the process list.
        await RunAsync("psql", ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", _home, "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", _serverUser, "-d", "postgres"], cancellationToken, stdin: sql).ConfigureAwait(false);
        NpgsqlConnection.ClearAllPools();
    }

    private string ReadPassword()
    {
        // One pgpass line: host:port:database:user:password; the generated password has no ':' or '\'.
        var line = File.ReadLines(PasswordFile).FirstOrDefault(l => l.Length > 0 && l[0] != '#') ?? "";
        var fields = line.Split(':');
        return fields.Length == 5 && fields[3] == Role && PlainPassword().IsMatch(fields[4])
            ? fields[4]
            : throw new DependencyUnavailableException($"{PasswordFile} does not hold a '*:*:*:{Role}:PASSWORD' line (letters and digits): fix it or delete the server directory {_home}");
    }

    private int ReadPort()
    {
        var file = Path.Combine(_home, "port");
        return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
            ? port
            : throw new DependencyUnavailableException($"{file} must hold the server's TCP port (1-65535): write a free port into it");
    }

    private void RemoveStaleLockFile()
    {
        var lockFile = Path.Combine(DataDirectory, "postmaster.pid");
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
    /// Nothing to do when no cluster exists.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default, bool immediate = false)
    {
        if (IsInitialized(_home))
        {
            await RunAsync("pg_ctl", ["stop", "-D", DataDirectory, "-m", immediate ? "immediate" : "fast", "-w", "-t", "60"], cancellationToken, allowFailure: true).ConfigureAwait(false);
        }
    }

    /// <summary>Creates <paramref name="database"/> unless it exists; the <c>metering</c> role owns it.</summary>
    public async Task EnsureDatabaseAsync(string database, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionStringFor("postgres"));
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection) { Parameters = { new() { Value = database } } };
        if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsInitialized(string serverDirectory) => File.Exists(Path.Combine(serverDirectory, "data", "PG_VERSION"));

    /// <summary>The configured directory when the server's user can enter it and its path suits a socket; else the /var/tmp one.</summary>
    private async Task<string> ChooseServerDirectoryAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_root);
        var socket = Path.Combine(_root, ".s.PGSQL.65535");
        if (PlainPath().IsMatch(_root) && Encoding.UTF8.GetByteCount(socket) <= MaxSocketPathBytes
            && (!_asRoot || await AsServerUserAsync("/usr/bin/test", ["-x", Path.GetDirectoryName(_root)!], cancellationToken).ConfigureAwait(false) == 0))
        {
            return _root;
        }

        return _fallback;
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new DependencyUnavailableException("the embedded PostgreSQL needs Linux: give --pg CONNECTION_STRING");
        }

        if (_serverUser == Role)
        {
            throw new DependencyUnavailableException($"the embedded PostgreSQL's superuser is named after the OS user, and '{Role}' is the engine's role: run as another user or give --pg");
        }

        await CreateServerDirectoryAsync(cancellationToken).ConfigureAwait(false);
        if (_home != _root)
        {
            await File.WriteAllTextAsync(Path.Combine(_root, LocationFileName), _home + "\n", cancellationToken).ConfigureAwait(false);
        }

        // The password file belongs to the engine's user (the server never reads it), written aside and renamed so a
        // reader never sees half of it; created 0600 so it is never readable by others, not even for a moment.
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        var partial = PasswordFile + ".partial";
        File.Delete(partial);
        await using (var file = new FileStream(partial, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
        await using (var writer = new StreamWriter(file))
        {
            await writer.WriteLineAsync($"*:*:*:{Role}:{password}".AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        File.Move(partial, PasswordFile, overwrite: true);
        await File.WriteAllTextAsync(Path.Combine(_home, "port"), FreePort().ToString(CultureInfo.InvariantCulture), cancellationToken).ConfigureAwait(false);
        await RunAsync("initdb", ["-D", DataDirectory, "-U", _serverUser, "--auth-local=peer", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"], cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the server's directory 0700 for the server's user; refuses a /var/tmp one someone else planted.</summary>
    private async Task CreateServerDirectoryAsync(CancellationToken cancellationToken)
    {
        const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        if (Directory.Exists(_home))
        {
            // /var/tmp is writable by everyone: a directory under our name that is a link or belongs to another user
            // could hand the cluster (and the password file) to them.
            var owner = (await OutputAsync("stat", ["-c", "%U", _home], cancellationToken).ConfigureAwait(false)).Trim();
            if (new DirectoryInfo(_home).LinkTarget is not null || (owner != _serverUser && owner != Environment.UserName))
            {
                throw new DependencyUnavailableException($"{_home} exists but is a link or belongs to '{owner}', not '{_serverUser}': remove it and start again");
            }
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_home)!);
            Directory.CreateDirectory(_home, Private);
        }

        File.SetUnixFileMode(_home, Private);
        if (_asRoot)
        {
            await OutputAsync("chown", ["-R", "postgres:postgres", _home], cancellationToken).ConfigureAwait(false);
        }
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
            .Where(d => new[] { "initdb", "pg_ctl", "psql" }.All(tool => File.Exists(Path.Combine(d.Dir, "bin", tool))))
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
    private Task<int> RunAsync(string tool, IReadOnlyList<string> args, CancellationToken cancellationToken, bool allowFailure = false, string? stdin = null) =>
        AsServerUserAsync(Path.Combine(_bin, tool), args, cancellationToken, allowFailure, stdin);

    private async Task<int> AsServerUserAsync(string path, IReadOnlyList<string> args, CancellationToken cancellationToken, bool allowFailure = true, string? stdin = null)
    {
        // initdb and pg_ctl change back into the working directory they started in; one the postgres user cannot
        // enter (root's 0700 home, a mktemp -d checkout) fails them, so they always start in the server's directory.
        var cwd = Directory.Exists(_home) ? _home : "/";
        var (code, _) = _asRoot
            ? await Process("runuser", ["-u", "postgres", "--", path, .. args], cwd, stdin, allowFailure, cancellationToken).ConfigureAwait(false)
            : await Process(path, args, cwd, stdin, allowFailure, cancellationToken).ConfigureAwait(false);
        return code;
    }

    private static async Task<string> OutputAsync(string file, IReadOnlyList<string> args, CancellationToken cancellationToken) =>
        (await Process(file, args, "/", null, allowFailure: false, cancellationToken).ConfigureAwait(false)).Stdout;

    private static async Task<(int Code, string Stdout)> Process(string file, IReadOnlyList<string> args, string workingDirectory, string? stdin, bool allowFailure, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null,
            UseShellExecute = false, WorkingDirectory = workingDirectory,
        };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        var name = Path.GetFileName(file) == "runuser" && args.Count > 3 ? Path.GetFileName(args[3]) : Path.GetFileName(file);
        System.Diagnostics.Process process;
        try
        {
            process = System.Diagnostics.Process.Start(start) ?? throw new DependencyUnavailableException($"could not start {file}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new DependencyUnavailableException($"could not run {file} ({e.Message}) to manage the embedded PostgreSQL: install it, or give --pg CONNECTION_STRING", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            if (stdin is not null)
            {
                await process.StandardInput.WriteAsync(stdin.AsMemory(), cancellationToken).ConfigureAwait(false);
                process.StandardInput.Close();
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(2));
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                throw new DependencyUnavailableException($"{name} did not finish within 2 minutes (embedded PostgreSQL); see the server's postgres.log");
            }

            var output = await stdout.ConfigureAwait(false);
            if (process.ExitCode != 0 && !allowFailure)
            {
                var detail = string.Join(" | ", (await stderr.ConfigureAwait(false) + "\n" + output).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
                throw new DependencyUnavailableException($"{name} failed (exit {process.ExitCode}) for the embedded PostgreSQL: {detail}");
            }

            return (process.ExitCode, output);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9/._+-]+$")]
    private static partial Regex PlainPath();

    [GeneratedRegex("^[A-Za-z0-9]+$")]
    private static partial Regex PlainPassword();
}
