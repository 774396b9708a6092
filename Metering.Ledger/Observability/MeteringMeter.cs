namespace Metering.Ledger.Observability;

/// <summary>
/// The one meter every stage's instruments belong to: each project (engine, analytics export, HTTP edge, API) creates
/// its own <see cref="System.Diagnostics.Metrics.Meter"/> of this name and version, and the Prometheus export adds the
/// name once. It lives in the ledger because every stage that reports metrics references the ledger.
/// </summary>
public static class MeteringMeter
{
    /// <summary>The meter's name, for <c>new Meter(...)</c> and <c>AddMeter</c>.</summary>
    public const string Name = "Metering";

    /// <summary>The meter's version.</summary>
    public const string Version = "1.0";
}
