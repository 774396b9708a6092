namespace Metering.Aggregates.Aggregation;

/// <summary>
/// Tumbling event-time windows aligned to the Unix epoch: window <c>n</c> covers
/// <c>[epoch + n*length, epoch + (n+1)*length)</c>, start inclusive, end exclusive. The length is between one second
/// and one hour and divides an hour evenly (so windows align to midnight UTC and to whole hours). Immutable, thread-safe.
/// </summary>
public sealed class TumblingWindows
{
    private static readonly long EpochTicks = DateTime.UnixEpoch.Ticks;

    /// <summary>Creates windows of <paramref name="length"/>; throws with the accepted range when it is not valid.</summary>
    public TumblingWindows(TimeSpan length)
    {
        if (length < TimeSpan.FromSeconds(1) || length > TimeSpan.FromHours(1) || length.Ticks % TimeSpan.TicksPerSecond != 0 ||
            TimeSpan.TicksPerHour % length.Ticks != 0)
        {
            // Dividing an hour (and so a day) puts a window boundary on every whole UTC hour, where price-book versions
            // take effect inside a period (docs/pricebooks.md): no window straddles a price change.
            throw new ArgumentOutOfRangeException(nameof(length), length,
                "window length must be whole seconds between 1s and 1h that divide an hour evenly (e.g. 1s, 10s, 1m, 5m, 15m, 1h)");
        }

        Length = length;
        LengthTicks = length.Ticks;
    }

    /// <summary>The default: one minute.</summary>
    public static TumblingWindows OneMinute { get; } = new(TimeSpan.FromMinutes(1));

    /// <summary>Window length.</summary>
    public TimeSpan Length { get; }

    /// <summary>Window length in ticks.</summary>
    public long LengthTicks { get; }

    /// <summary>Index of the window containing <paramref name="utcTicks"/> (times before 1970 are rejected by the decoder).</summary>
    public uint IndexOf(long utcTicks) => (uint)((utcTicks - EpochTicks) / LengthTicks);

    /// <summary>Start (inclusive) of window <paramref name="index"/> in UTC ticks.</summary>
    public long StartTicks(uint index) => EpochTicks + (index * LengthTicks);

    /// <summary>Start of window <paramref name="index"/> as a UTC instant.</summary>
    public DateTimeOffset Start(uint index) => new(StartTicks(index), TimeSpan.Zero);
}
