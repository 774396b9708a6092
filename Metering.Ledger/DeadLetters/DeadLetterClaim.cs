using Npgsql;

namespace Metering.Ledger.DeadLetters;

/// <summary>
/// Unpublished dead letters locked by one open transaction (<c>FOR UPDATE SKIP LOCKED</c>, from
/// <see cref="DeadLetterOutboxStore.ClaimAsync"/>): no other claim sees these rows until this one ends. Produce the
/// rows, mark the acknowledged ones, then <see cref="CommitAsync"/>; disposing without a commit rolls back, so every
/// row stays unpublished for the next claim (the crash path). Not thread-safe; one claim per drain.
/// </summary>
public sealed class DeadLetterClaim : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly NpgsqlTransaction _transaction;

    internal DeadLetterClaim(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<UnpublishedDeadLetter> rows)
    {
        _connection = connection;
        _transaction = transaction;
        Rows = rows;
    }

    /// <summary>The claimed rows, in id order.</summary>
    public IReadOnlyList<UnpublishedDeadLetter> Rows { get; }

    /// <summary>Sets <c>published_at</c> on <paramref name="ids"/> inside the claim's transaction (visible once committed).</summary>
    public async Task MarkPublishedAsync(IReadOnlyCollection<long> ids, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        await using var mark = new NpgsqlCommand("UPDATE dead_letters SET published_at = now() WHERE id = ANY($1)", _connection, _transaction);
        mark.Parameters.Add(new() { Value = ids as long[] ?? [.. ids] });
        await mark.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Commits the marks and releases the rows.</summary>
    public Task CommitAsync(CancellationToken cancellationToken) => _transaction.CommitAsync(cancellationToken);

    /// <summary>Ends the claim: rolls back what was not committed and returns the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await _transaction.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }
}
