using System.Runtime.InteropServices;
using System.Text;

namespace Metering.Analytics.ChDb;

/// <summary>
/// The process's one connection to embedded ClickHouse (chDB). The engine is a process-wide singleton bound to one
/// data directory, so this type is too: <see cref="Open"/> returns the shared session (opening it on first use) and
/// refuses a different directory while it is open. Every statement runs under one lock: a chDB connection executes
/// one statement at a time, and serializing here keeps result buffers from interleaving. Thread-safe.
/// <para>
/// Lifetime: reference counted; the last <see cref="Dispose"/> closes the connection. Because an open chDB connection
/// makes the process hang at exit, a ProcessExit hook closes it if the owner forgot. chDB's own signal handlers are
/// switched off before connecting (they would swallow the SIGSEGV .NET uses for NullReferenceException), and the
/// .NET runtime's handlers for the signals chDB resets are saved and put back around that call.
/// </para>
/// </summary>
public sealed unsafe class ChDbSession : IDisposable
{
    private static readonly Lock OpenGate = new();
    private static ChDbSession? _shared;

    private readonly ChDbNative.Api _api;
    private readonly Lock _gate = new();
    private nint _connection; // chdb_connection* (pointer to the handle); 0 once closed
    private int _references;

    private ChDbSession(ChDbNative.Api api, string dataDirectory, nint connection)
    {
        _api = api;
        DataDirectory = dataDirectory;
        _connection = connection;
    }

    /// <summary>The engine's data directory (absolute).</summary>
    public string DataDirectory { get; }

    /// <summary>Path of the loaded libchdb.so.</summary>
    public string LibraryPath => _api.Path;

    /// <summary>chDB's version string.</summary>
    public string Version => Marshal.PtrToStringUTF8((nint)_api.Version()) ?? "unknown";

    /// <summary>Opens (or shares) the process's session on <paramref name="dataDirectory"/>; dispose it when done.</summary>
    public static ChDbSession Open(string dataDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dataDirectory);
        var full = Path.GetFullPath(dataDirectory);
        lock (OpenGate)
        {
            if (_shared is { } open)
            {
                if (!string.Equals(open.DataDirectory, full, StringComparison.Ordinal))
                {
                    throw new InvalidOperationException(
                        $"chDB is already open on {open.DataDirectory} in this process; one data directory per process (asked for {full})");
                }

                open._references++;
                return open;
            }

            Directory.CreateDirectory(full);
            var api = ChDbNative.Load();
            SignalDispositions.PreserveAround(() => api.SetSignalHandlersEnabled(0));
            var connection = Connect(api, full);
            var session = new ChDbSession(api, full, connection) { _references = 1 };
            _shared = session;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => session.Close();
            return session;
        }
    }

    private static nint Connect(ChDbNative.Api api, string path)
    {
        var args = new[] { "clickhouse", "--path=" + path };
        var encoded = args.Select(a => Marshal.StringToCoTaskMemUTF8(a)).ToArray();
        try
        {
            fixed (nint* argv = encoded)
            {
                var connection = api.Connect(args.Length, (byte**)argv);
                if (connection == 0 || *(nint*)connection == 0)
                {
                    throw new ClickHouseException($"chdb_connect failed for --path={path} (chDB printed why above; a common cause: another process has this data directory open, and chDB allows one process per directory; use a ClickHouse server via --clickhouse-url to share)");
                }

                return connection;
            }
        }
        finally
        {
            foreach (var p in encoded)
            {
                Marshal.FreeCoTaskMem(p);
            }
        }
    }

    /// <summary>Runs <paramref name="sql"/> and returns its output in <paramref name="format"/>; throws <see cref="ClickHouseException"/>.</summary>
    public byte[] Query(string sql, string format = "TabSeparated")
    {
        ArgumentNullException.ThrowIfNull(sql);
        ArgumentNullException.ThrowIfNull(format);
        var sqlBytes = Encoding.UTF8.GetBytes(sql);
        var formatBytes = Encoding.UTF8.GetBytes(format);
        lock (_gate)
        {
            var conn = Handle();
            fixed (byte* q = sqlBytes)
            fixed (byte* f = formatBytes)
            {
                return TakeResult(_api.QueryN(conn, q, (nuint)sqlBytes.Length, f, (nuint)formatBytes.Length), sql);
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="sql"/> with server-side bound <c>{name:Type}</c> parameters (values are never spliced
    /// into the text) and returns its output in <paramref name="format"/>.
    /// </summary>
    public byte[] Query(string sql, string format, IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        ArgumentNullException.ThrowIfNull(sql);
        ArgumentNullException.ThrowIfNull(format);
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Count == 0)
        {
            return Query(sql, format);
        }

        var allocated = new List<nint>(2 + parameters.Count * 2);
        try
        {
            nint Utf8(string s)
            {
                var p = Marshal.StringToCoTaskMemUTF8(s);
                allocated.Add(p);
                return p;
            }

            var names = new nint[parameters.Count];
            var values = new nint[parameters.Count];
            for (var i = 0; i < parameters.Count; i++)
            {
                names[i] = Utf8(parameters[i].Key);
                values[i] = Utf8(parameters[i].Value);
            }

            var q = Utf8(sql);
            var f = Utf8(format);
            lock (_gate)
            {
                var conn = Handle();
                fixed (nint* n = names)
                fixed (nint* v = values)
                {
                    return TakeResult(_api.QueryWithParams(conn, (byte*)q, (byte*)f, (byte**)n, (byte**)v, (nuint)parameters.Count), sql);
                }
            }
        }
        finally
        {
            foreach (var p in allocated)
            {
                Marshal.FreeCoTaskMem(p);
            }
        }
    }

    /// <summary>
    /// Streams <paramref name="data"/> (in <paramref name="format"/>, e.g. ArrowStream) into <paramref name="insertSql"/>
    /// (an INSERT without FORMAT or data); returns the rows written.
    /// </summary>
    public ulong Insert(string insertSql, string format, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(insertSql);
        ArgumentNullException.ThrowIfNull(format);
        var sqlBytes = Encoding.UTF8.GetBytes(insertSql);
        var formatBytes = Encoding.UTF8.GetBytes(format);
        lock (_gate)
        {
            var conn = Handle();
            nint stream;
            fixed (byte* q = sqlBytes)
            fixed (byte* f = formatBytes)
            {
                stream = _api.StreamInsertN(conn, q, (nuint)sqlBytes.Length, f, (nuint)formatBytes.Length);
            }

            try
            {
                ThrowIfStreamFailed(stream, insertSql);
                fixed (byte* d = data)
                {
                    if (_api.StreamAppend(stream, d, (nuint)data.Length) != 0)
                    {
                        ThrowIfStreamFailed(stream, insertSql);
                        throw new ClickHouseException($"chDB refused the data of: {insertSql}");
                    }
                }

                var result = _api.StreamDone(stream);
                try
                {
                    ThrowIfError(result, insertSql);
                    return _api.ResultRowsWritten(result);
                }
                finally
                {
                    _api.DestroyQueryResult(result);
                }
            }
            finally
            {
                _api.DestroyInsertStream(stream);
            }
        }
    }

    private void ThrowIfStreamFailed(nint stream, string sql)
    {
        var error = stream == 0 ? null : _api.StreamInsertError(stream);
        if (stream == 0 || error != null)
        {
            throw new ClickHouseException($"chDB: {(error == null ? "no insert stream" : Marshal.PtrToStringUTF8((nint)error))} (statement: {Shorten(sql)})");
        }
    }

    private nint Handle()
    {
        ObjectDisposedException.ThrowIf(_connection == 0, this);
        return *(nint*)_connection;
    }

    private byte[] TakeResult(nint result, string sql)
    {
        if (result == 0)
        {
            throw new ClickHouseException($"chDB returned no result for: {Shorten(sql)}");
        }

        try
        {
            ThrowIfError(result, sql);
            var length = (int)_api.ResultLength(result);
            var buffer = _api.ResultBuffer(result);
            return length == 0 || buffer == null ? [] : new ReadOnlySpan<byte>(buffer, length).ToArray();
        }
        finally
        {
            _api.DestroyQueryResult(result);
        }
    }

    private void ThrowIfError(nint result, string sql)
    {
        var error = _api.ResultError(result);
        if (error != null)
        {
            throw new ClickHouseException($"chDB: {Marshal.PtrToStringUTF8((nint)error)?.Trim()} (statement: {Shorten(sql)})");
        }
    }

    private static string Shorten(string sql) => sql.Length <= 300 ? sql : sql[..300] + "...";

    /// <summary>Releases one reference; the last one closes the connection.</summary>
    public void Dispose()
    {
        lock (OpenGate)
        {
            if (--_references > 0)
            {
                return;
            }

            Close();
        }
    }

    private void Close()
    {
        lock (_gate)
        {
            if (_connection == 0)
            {
                return;
            }

            _api.CloseConn(_connection);
            _connection = 0;
        }

        lock (OpenGate)
        {
            if (ReferenceEquals(_shared, this))
            {
                _shared = null;
            }
        }
    }
}
