namespace Metering.Rating.Periods;

/// <summary>
/// How time is cut into billing periods. One function, <see cref="PeriodOf"/>, answers "which period holds this
/// instant" for every rule:
/// <list type="bullet">
/// <item><b>monthly</b> anchored on day D (1-31, default 1 = calendar month) at 00:00 UTC: a period starts on day
/// D of a month, or on the month's last day when the month is shorter (anchor 31 -> Feb 28/29, Apr 30), and ends
/// where the next one starts;</item>
/// <item><b>fixed</b> length L from an epoch E: periods [E + nL, E + (n+1)L) for every integer n.</item>
/// </list>
/// Immutable and thread-safe.
/// </summary>
public sealed class BillingPeriodRule
{
    private BillingPeriodRule(int anchorDay, TimeSpan fixedLength, DateTimeOffset epoch)
    {
        AnchorDay = anchorDay;
        FixedLength = fixedLength;
        Epoch = epoch;
    }

    /// <summary>Calendar months in UTC (anchor day 1).</summary>
    public static BillingPeriodRule CalendarMonth { get; } = Monthly(1);

    /// <summary>Monthly periods anchored on <paramref name="anchorDay"/> (1-31).</summary>
    public static BillingPeriodRule Monthly(int anchorDay)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(anchorDay, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(anchorDay, 31);
        return new BillingPeriodRule(anchorDay, TimeSpan.Zero, default);
    }

    /// <summary>Periods of a fixed <paramref name="length"/> (at least one hour) counted from <paramref name="epoch"/>.</summary>
    public static BillingPeriodRule Fixed(TimeSpan length, DateTimeOffset epoch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, TimeSpan.FromHours(1));
        return new BillingPeriodRule(0, length, epoch.ToUniversalTime());
    }

    /// <summary>Anchor day of monthly periods, 0 for fixed-length periods.</summary>
    public int AnchorDay { get; }

    /// <summary>Length of fixed periods.</summary>
    public TimeSpan FixedLength { get; }

    /// <summary>Epoch of fixed periods.</summary>
    public DateTimeOffset Epoch { get; }

    /// <summary>The period that contains <paramref name="instant"/>.</summary>
    public BillingPeriod PeriodOf(DateTimeOffset instant)
    {
        var t = instant.ToUniversalTime();
        if (AnchorDay == 0)
        {
            var n = (long)Math.Floor((decimal)(t - Epoch).Ticks / FixedLength.Ticks);
            var start = Epoch + TimeSpan.FromTicks(n * FixedLength.Ticks);
            return new BillingPeriod(start, start + FixedLength);
        }

        var thisMonth = AnchorIn(t.Year, t.Month);
        if (t >= thisMonth)
        {
            var next = t.Month == 12 ? AnchorIn(t.Year + 1, 1) : AnchorIn(t.Year, t.Month + 1);
            return new BillingPeriod(thisMonth, next);
        }

        var previous = t.Month == 1 ? AnchorIn(t.Year - 1, 12) : AnchorIn(t.Year, t.Month - 1);
        return new BillingPeriod(previous, thisMonth);
    }

    private DateTimeOffset AnchorIn(int year, int month) =>
        new(year, month, Math.Min(AnchorDay, DateTime.DaysInMonth(year, month)), 0, 0, 0, TimeSpan.Zero);
}
