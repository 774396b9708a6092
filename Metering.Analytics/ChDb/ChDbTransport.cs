
namespace Metering.Analytics.ChDb;

/// <summary>
/// Embedded ClickHouse (chDB) as the analytics store: statements run in this process on the shared
/// <see cref="ChDbSession"/> (one per process, serialized). Arrow batches are streamed into the INSERT with chDB's
/// insert-stream API (no temporary file). The default transport.
/// </summary>
public sealed class ChDbTransport : IAnalyticsTransport
{
    /// <summary>Default data directory of the embedded engine.</summary>
    public static readonly string DefaultDataDirectory = Path.Combine(".metering", "clickhouse");

    private readonly ChDbSession _session;
    private readonly bool _ownsSession;

    /// <summary>Opens (or shares) the process's chDB session on <paramref name="dataDirectory"/>.</summary>
    public ChDbTransport(string dataDirectory)
        : this(ChDbSession.Open(dataDirectory), ownsSession: true)
    {
    }

    /// <summary>Uses an already open session; <paramref name="ownsSession"/> says whether Dispose releases it.</summary>
    public ChDbTransport(ChDbSession session, bool ownsSession)
    {
        ArgumentNullException.ThrowIfNull(session);
        _session = session;
        _ownsSession = ownsSession;
    }

    /// <inheritdoc />
    public string Description => $"chDB {_session.Version} (embedded) in {_session.DataDirectory}";

    /// <inheritdoc />
    public Task ExecuteAsync(string sql, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _ = _session.Query(sql);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task InsertArrowAsync(string insertHead, ReadOnlyMemory<byte> arrowStream, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        _ = _session.Insert(insertHead, "ArrowStream", arrowStream.Span);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<string?[]>> QueryAsync(string sql, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        cancellationToken.ThrowIfCancellationRequested();
        var escaped = parameters.Select(p => new KeyValuePair<string, string>(p.Key, ClickHouseWire.EscapeParameter(p.Value))).ToList();
        var output = _session.Query(sql, ClickHouseWire.ResultFormat, escaped);
        return Task.FromResult(ClickHouseWire.ReadJsonCompact(output));
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsSession)
        {
            _session.Dispose();
        }
    }
}
