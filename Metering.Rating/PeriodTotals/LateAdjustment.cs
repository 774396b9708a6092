using Metering.Rating.Periods;

namespace Metering.Rating.PeriodTotals;

/// <summary>
/// Late usage of a closed period, booked as an adjustment line into the open period starting at
/// <see cref="BookedIn"/>: this flush's quantity, record count and charge of that usage (rated on top of the closed
/// total plus the adjustments already booked for it), and a readable reference naming the period and the windows.
/// </summary>
public sealed record LateAdjustment(
    PeriodTotalKey Key, BillingPeriod OriginalPeriod, DateTimeOffset BookedIn,
    decimal Quantity, long Count, decimal Amount, string Currency, string PriceBookHash,
    DateTimeOffset FirstWindowStart, DateTimeOffset LastWindowEnd)
{
    /// <summary>"late usage for closed period 2026-10-01T00:00:00Z/2026-11-01T00:00:00Z, windows FROM..TO" (round-trip times).</summary>
    public string Reference => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"late usage for closed period {OriginalPeriod}, windows {FirstWindowStart:O}..{LastWindowEnd:O}");
}
