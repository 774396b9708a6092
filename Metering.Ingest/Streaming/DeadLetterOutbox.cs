using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Metering.Ledger.DeadLetters;
using Npgsql;

namespace Metering.Ingest.Streaming;

/// <summary>
/// Produces the engine's dead letters from their outbox, the <c>dead_letters</c> table (written in the flush
/// transaction), to the dead-letter topic, and marks each row <c>published_at</c> only after Kafka acknowledged it.
/// So a crash anywhere (after the commit, before or during producing) loses none: the next drain produces whatever is
/// unmarked. At least once: a crash between the acknowledgement and the mark produces a row again; its key
/// "partition:offset" lets consumers dedup. Rows are claimed with <c>FOR UPDATE SKIP LOCKED</c>, so several engines of
/// one group drain side by side without producing the same row twice in the normal case.
/// Drains run on a background task of their own (never on the poll thread): <see cref="Kick"/> after a commit, once
/// at start for rows a crash left behind. Thread-safety: <see cref="Kick"/> from any thread; <see cref="StopAsync"/> once.
/// </summary>
public sealed class DeadLetterOutbox : IAsyncDisposable
{
    private const int BatchSize = 1_000;
    private readonly NpgsqlDataSource _db;
    private readonly string _sourceTopic;
    private readonly string _topic;
    private readonly Func<IProducer<byte[]?, byte[]>> _createProducer;
    private readonly TextWriter _log;
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private IProducer<byte[]?, byte[]>? _producer;
    private long _published;
    private long _failures;
    private long _requested;
    private long _completed;

    /// <summary>Starts the drainer for the dead letters of <paramref name="sourceTopic"/>, produced to <paramref name="deadLetterTopic"/>.</summary>
    public DeadLetterOutbox(NpgsqlDataSource db, string sourceTopic, string deadLetterTopic, Func<IProducer<byte[]?, byte[]>> createProducer, TextWriter log)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentException.ThrowIfNullOrEmpty(deadLetterTopic);
        _db = db;
        _sourceTopic = sourceTopic;
        _topic = deadLetterTopic;
        _createProducer = createProducer;
        _log = log;
        _loop = Task.Run(LoopAsync);
        Kick(); // rows an earlier run committed and never produced (a crash)
    }

    /// <summary>Dead letters the dead-letter topic acknowledged (and were marked published).</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Dead letters the topic refused (they stay unmarked and are produced again by a later drain).</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Asks for a drain (coalesced: one pending request at most); returns the request's number.</summary>
    public long Kick()
    {
        var request = Interlocked.Increment(ref _requested);
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // a drain is already requested; it starts after this request, so it covers it
        }

        return request;
    }

    /// <summary>Drains what is unpublished now (bounded by <paramref name="timeout"/>), then stops the background task.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        var request = Kick();
        var deadline = DateTime.UtcNow + timeout;
        while (Interlocked.Read(ref _completed) < request && DateTime.UtcNow < deadline && !_loop.IsCompleted)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
    }

    /// <summary>Stops without draining (the crash path; the rows wait for the next start).</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await _loop.ConfigureAwait(false);
        _producer?.Dispose();
        _stop.Dispose();
        _signal.Dispose();
    }

    private async Task LoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _signal.WaitAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var request = Interlocked.Read(ref _requested); // every request up to here is covered by this drain
            try
            {
                while (await DrainBatchAsync(_stop.Token).ConfigureAwait(false))
                {
                }

                Interlocked.Exchange(ref _completed, request);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is NpgsqlException or KafkaException or TimeoutException)
            {
                // Infrastructure: the rows stay unmarked; try again shortly.
                _log.WriteLine($"stream: dead-letter outbox: drain failed ({e.Message}); retrying");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Kick();
            }
        }
    }

    /// <summary>Produces one batch of unpublished rows and marks the acknowledged ones; false when none were left.</summary>
    private async Task<bool> DrainBatchAsync(CancellationToken cancellationToken)
    {
        await using var claim = await DeadLetterOutboxStore.ClaimAsync(_db, _sourceTopic, BatchSize, cancellationToken).ConfigureAwait(false);
        var rows = claim.Rows;
        if (rows.Count == 0)
        {
            await claim.CommitAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        _producer ??= _createProducer();
        var deliveries = rows.Select(r => Produce(r.Partition, r.Offset, r.Reason, r.Detail, r.Raw)).ToList();
        var acknowledged = new List<long>(rows.Count);
        for (var i = 0; i < rows.Count; i++)
        {
            try
            {
                await deliveries[i].ConfigureAwait(false);
                acknowledged.Add(rows[i].Id);
            }
            catch (ProduceException<byte[]?, byte[]>)
            {
                Interlocked.Increment(ref _failures);
            }
        }

        await claim.MarkPublishedAsync(acknowledged, cancellationToken).ConfigureAwait(false);
        await claim.CommitAsync(cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _published, acknowledged.Count);
        Observability.MeteringMetrics.DeadLettersPublished(acknowledged.Count);
        if (acknowledged.Count < rows.Count)
        {
            throw new TimeoutException($"{rows.Count - acknowledged.Count} of {rows.Count} dead letters were not acknowledged by {_topic}");
        }

        return true;
    }

    /// <summary>value = the raw record, key = "partition:offset", headers = reason, detail, source topic, partition, offset.</summary>
    private Task<DeliveryResult<byte[]?, byte[]>> Produce(int partition, long offset, string reason, string detail, byte[] raw)
    {
        var headers = new Headers
        {
            { "reason", Encoding.UTF8.GetBytes(reason) },
            { "detail", Encoding.UTF8.GetBytes(detail) },
            { "source-topic", Encoding.UTF8.GetBytes(_sourceTopic) },
            { "source-partition", Encoding.UTF8.GetBytes(partition.ToString(CultureInfo.InvariantCulture)) },
            { "source-offset", Encoding.UTF8.GetBytes(offset.ToString(CultureInfo.InvariantCulture)) },
        };
        var key = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{partition}:{offset}"));
        return _producer!.ProduceAsync(_topic, new Message<byte[]?, byte[]> { Key = key, Value = raw, Headers = headers });
    }
}
