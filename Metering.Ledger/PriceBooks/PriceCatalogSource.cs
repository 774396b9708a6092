using Metering.Rating.PriceBooks;
using Npgsql;

namespace Metering.Ledger.PriceBooks;

/// <summary>
/// The price catalog a running engine or API rates with. Either fixed (<see cref="Fixed"/>: tests, benchmarks, the
/// file pipeline), or the registry's (<see cref="OpenAsync"/>): loaded at start, reloaded when a publish NOTIFYs
/// <see cref="PriceBookRegistry.Channel"/> and, as the fallback when a notification is lost or the listening
/// connection is down, every poll interval. A flush does not depend on either: inside its transaction
/// (<see cref="ForFlushAsync"/>) it compares the registry's revision with the snapshot's and reloads first when they
/// differ, so the first flush that commits after a publish rates with it. Swapping is one reference write of an
/// immutable snapshot: a flush or request rates with the snapshot it took, from start to end. Thread-safe.
/// </summary>
public sealed class PriceCatalogSource : IAsyncDisposable
{
    private readonly NpgsqlDataSource? _db;
    private readonly string? _listBook;
    private readonly TimeSpan _poll;
    private readonly TextWriter _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _reload = new(1, 1);
    private volatile RegistrySnapshot _snapshot;
    private Task? _watch;

    private PriceCatalogSource(NpgsqlDataSource? db, RegistrySnapshot snapshot, TimeSpan poll, TextWriter log)
    {
        _db = db;
        _snapshot = snapshot;
        _listBook = snapshot.ListBook;
        _poll = poll;
        _log = log;
    }

    /// <summary>A source that always answers <paramref name="catalog"/> and never reads the registry.</summary>
    public static PriceCatalogSource Fixed(PriceCatalog? catalog) => new(null, new RegistrySnapshot(-1, catalog, catalog?.List?.Id), TimeSpan.Zero, TextWriter.Null);

    /// <summary>
    /// Loads the registry's catalog (list book <paramref name="listBook"/>, null: its only one) and starts watching it:
    /// LISTEN on <see cref="PriceBookRegistry.Channel"/>, and a reload at least every <paramref name="poll"/>.
    /// Reload failures are written to <paramref name="log"/> and keep the previous catalog.
    /// </summary>
    public static async Task<PriceCatalogSource> OpenAsync(NpgsqlDataSource db, string? listBook, TimeSpan poll, TextWriter? log, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(poll, TimeSpan.Zero);
        var snapshot = await PriceBookRegistry.LoadAsync(db, listBook, cancellationToken).ConfigureAwait(false);
        var source = new PriceCatalogSource(db, snapshot with { ListBook = listBook ?? snapshot.ListBook }, poll, log ?? TextWriter.Null);
        source._watch = Task.Run(() => source.WatchAsync(source._stop.Token), CancellationToken.None);
        return source;
    }

    /// <summary>The catalog now (null: nothing priced). Take it once per unit of work and rate with that.</summary>
    public PriceCatalog? Current => _snapshot.Catalog;

    /// <summary>The registry revision <see cref="Current"/> was built at (-1 for a fixed source).</summary>
    public long Revision => _snapshot.Revision;

    /// <summary>Reloads seen since start (NOTIFY, poll or a flush that found a newer revision).</summary>
    public long Reloads => Interlocked.Read(ref _reloads);

    private long _reloads;

    /// <summary>
    /// The catalog a flush rates with, read inside its transaction after it took the shared flush lock (a publish
    /// holds it exclusively): the snapshot if it is at the registry's revision, else the registry's catalog loaded
    /// in <paramref name="tx"/> (and kept for the next flush).
    /// </summary>
    public async Task<PriceCatalog?> ForFlushAsync(NpgsqlConnection connection, NpgsqlTransaction tx, CancellationToken cancellationToken)
    {
        if (_db is null)
        {
            return _snapshot.Catalog;
        }

        var current = _snapshot;
        if (await PriceBookRegistry.RevisionAsync(connection, tx, cancellationToken).ConfigureAwait(false) == current.Revision)
        {
            return current.Catalog;
        }

        var loaded = await PriceBookRegistry.LoadAsync(connection, tx, _listBook, cancellationToken).ConfigureAwait(false);
        Swap(loaded);
        return loaded.Catalog;
    }

    /// <summary>Reloads now if the registry moved on (what NOTIFY and the poll call).</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (_db is null)
        {
            return;
        }

        await _reload.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var connection = await _db.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            if (await PriceBookRegistry.RevisionAsync(connection, null, cancellationToken).ConfigureAwait(false) != _snapshot.Revision)
            {
                Swap(await PriceBookRegistry.LoadAsync(connection, null, _listBook, cancellationToken).ConfigureAwait(false));
            }
        }
        finally
        {
            _reload.Release();
        }
    }

    private void Swap(RegistrySnapshot loaded)
    {
        // Never back to an older revision (a slow reload finishing after a newer one).
        var seen = _snapshot;
        while (loaded.Revision > seen.Revision)
        {
            var was = Interlocked.CompareExchange(ref _snapshot, loaded, seen);
            if (ReferenceEquals(was, seen))
            {
                Interlocked.Increment(ref _reloads);
                return;
            }

            seen = was;
        }
    }

    private async Task WatchAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await _db!.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                await using (var listen = new NpgsqlCommand($"LISTEN {PriceBookRegistry.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                // Whatever was published before LISTEN took effect.
                await RefreshAsync(cancellationToken).ConfigureAwait(false);
                while (!cancellationToken.IsCancellationRequested)
                {
                    // True on a notification, false when the poll interval passed: reload either way (cheap when unchanged).
                    await connection.WaitAsync(_poll, cancellationToken).ConfigureAwait(false);
                    await RefreshAsync(cancellationToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or PriceBookRegistryException or TimeoutException or IOException)
            {
                // The previous catalog stays in force; the listening connection is opened again after one poll interval.
                await _log.WriteLineAsync($"price books: reload failed, keeping revision {_snapshot.Revision}: {e.Message.ReplaceLineEndings(" ")}").ConfigureAwait(false);
                try
                {
                    await Task.Delay(_poll, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Stops watching.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_watch is not null)
        {
            await _watch.ConfigureAwait(false);
        }

        _stop.Dispose();
        _reload.Dispose();
    }
}
