using Metering.Analytics.ChDb;

namespace Metering.Analytics;

/// <summary>
/// How statements reach ClickHouse: embedded (<see cref="ChDbTransport"/>) or a server over HTTP
/// (<see cref="ClickHouseHttpTransport"/>). Both take the same SQL text from <see cref="AnalyticsSchema"/> and
/// the same Arrow IPC stream bytes. Implementations are thread-safe; failures throw <see cref="ClickHouseException"/>.
/// </summary>
public interface IAnalyticsTransport : IDisposable
{
    /// <summary>Where the statements go, for logs (no secrets).</summary>
    string Description { get; }

    /// <summary>Runs a statement that returns nothing of interest (DDL, INSERT ... SELECT, OPTIMIZE).</summary>
    Task ExecuteAsync(string sql, CancellationToken cancellationToken);

    /// <summary>
    /// Inserts an Arrow IPC stream (schema + record batches) with <paramref name="insertHead"/>, an INSERT statement
    /// without FORMAT clause, e.g. <c>INSERT INTO db.t (a, b)</c>.
    /// </summary>
    Task InsertArrowAsync(string insertHead, ReadOnlyMemory<byte> arrowStream, CancellationToken cancellationToken);

    /// <summary>
    /// Runs a SELECT with server-side bound <c>{name:Type}</c> parameters (raw values: the transport escapes them;
    /// they never become SQL text) and returns its rows, each value as text (numbers in their exact decimal form,
    /// NULL as null).
    /// </summary>
    Task<IReadOnlyList<string?[]>> QueryAsync(string sql, IReadOnlyList<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken);
}
