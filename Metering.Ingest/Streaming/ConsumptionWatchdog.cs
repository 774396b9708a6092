using System.Diagnostics;

namespace Metering.Ingest.Streaming;

/// <summary>
/// Turns "holds partitions, has lag, consumes nothing" into a visible failure instead of a silent stall: when a
/// member held partitions and its progress counter has not moved for <c>stallTimeout</c> although the partitions have
/// lag (or it lost its assignment and was given nothing back for that long), it becomes unhealthy (<see cref="Healthy"/> false, so <c>/healthz</c> answers 503 and Kubernetes restarts the
/// pod), logs one line and counts <c>metering.consumer.stalls</c>. It becomes healthy again as soon as a record is
/// consumed. A member without partitions, or without lag, is idle, not stalled.
/// The lag is asked of the broker (a round trip, on the watchdog's own thread, only once progress stopped): cached
/// watermarks stop moving when fetching stops, which is exactly the case to catch.
/// Thread-safety: the sample and lag functions are called on a timer thread, one call at a time.
/// </summary>
public sealed class ConsumptionWatchdog : IDisposable
{
    private readonly TimeSpan _stallTimeout;
    private readonly Func<ConsumptionSample> _sample;
    private readonly Func<long> _lag;
    private readonly TextWriter _log;
    private readonly Timer _timer;
    private readonly IDisposable _metric;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _gate = new();
    private long _lastRead = -1;
    private TimeSpan _lastProgress;
    // One immutable snapshot, replaced whole: /healthz reads status and detail together, never a 503 saying "ok".
    private volatile HealthState _health = HealthState.Ok;
    private long _stalls;
    private bool _disposed;

    /// <summary>Starts watching; checks a few times per <paramref name="stallTimeout"/> (at most once a second).</summary>
    public ConsumptionWatchdog(TimeSpan stallTimeout, Func<ConsumptionSample> sample, Func<long> lag, TextWriter log)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(stallTimeout, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(lag);
        ArgumentNullException.ThrowIfNull(log);
        _stallTimeout = stallTimeout;
        _sample = sample;
        _lag = lag;
        _log = log;
        var period = TimeSpan.FromTicks(Math.Clamp(stallTimeout.Ticks / 6, TimeSpan.FromMilliseconds(100).Ticks, TimeSpan.FromSeconds(1).Ticks));
        _metric = Observability.MeteringMetrics.RegisterStallSource(() => _health.Healthy ? 0 : (_clock.Elapsed - _lastProgress).TotalSeconds);
        _timer = new Timer(_ => Check(), null, period, period);
    }

    /// <summary>False while the member is stalled (see the class remarks).</summary>
    public bool Healthy => _health.Healthy;

    /// <summary>"ok", or why the member is unhealthy.</summary>
    public string Detail => _health.Detail;

    /// <summary><see cref="Healthy"/> and <see cref="Detail"/> read together from one snapshot (what /healthz answers).</summary>
    public (bool Healthy, string Detail) Health
    {
        get
        {
            var h = _health;
            return (h.Healthy, h.Detail);
        }
    }

    /// <summary>Stalls detected since start.</summary>
    public long Stalls => Interlocked.Read(ref _stalls);

    /// <summary>One check (the timer calls it; tests may too).</summary>
    public void Check()
    {
        if (!_gate.TryEnter())
        {
            return; // the previous check is still asking the broker
        }

        try
        {
            if (_disposed)
            {
                return;
            }

            var now = _clock.Elapsed;
            var sample = _sample();
            if (sample.Read != _lastRead)
            {
                if (!_health.Healthy)
                {
                    _log.WriteLine($"stream: WATCHDOG: consuming again after {(now - _lastProgress).TotalSeconds:F1} s without progress; healthy");
                }

                _health = HealthState.Ok;
                _lastRead = sample.Read;
                _lastProgress = now;
                return;
            }

            if (sample.AssignedPartitions == 0 && !sample.Rejoining)
            {
                // Holding nothing after a clean revocation is idle (more members than partitions); a stalled member
                // stays unhealthy until it consumes again.
                if (_health.Healthy)
                {
                    _lastProgress = now;
                }

                return;
            }

            if (!_health.Healthy || now - _lastProgress < _stallTimeout)
            {
                return;
            }

            long lag;
            string? lagError = null;
            try
            {
                lag = sample.AssignedPartitions == 0 ? -1 : _lag(); // rejoining: whatever we held is not being consumed by us
            }
#pragma warning disable CA1031 // a broker that cannot even answer a watermark query while we hold partitions is a stall too
            catch (Exception e)
#pragma warning restore CA1031
            {
                lag = -1;
                lagError = e.Message;
            }

            if (lag == 0)
            {
                _lastProgress = now; // idle: nothing to consume; the clock starts again when records arrive
                return;
            }

            var detail = sample.AssignedPartitions == 0
                ? $"stalled: the assignment was lost and the group gave nothing back for {(now - _lastProgress).TotalSeconds:F0} s"
                : $"stalled: {sample.AssignedPartitions} partitions assigned, lag {(lag < 0 ? "unknown" + (lagError is null ? "" : $" ({lagError})") : lag.ToString("N0", System.Globalization.CultureInfo.InvariantCulture))}, nothing consumed for {(now - _lastProgress).TotalSeconds:F0} s";
            _health = new HealthState(false, detail);
            Interlocked.Increment(ref _stalls);
            Observability.MeteringMetrics.ConsumerStalled();
            _log.WriteLine($"stream: WATCHDOG: {detail}; reporting unhealthy on /healthz so the member is restarted");
        }
        finally
        {
            _gate.Exit();
        }
    }

    /// <summary>Stops the timer and unregisters the metric.</summary>
    public void Dispose()
    {
        _timer.Dispose();
        lock (_gate)
        {
            _disposed = true; // waits for a check in progress: it may be using the consumer being closed
        }

        _metric.Dispose();
    }

    private sealed record HealthState(bool Healthy, string Detail)
    {
        public static HealthState Ok { get; } = new(true, "ok");
    }
}
