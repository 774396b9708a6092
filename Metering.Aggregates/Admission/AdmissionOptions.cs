using Metering.Aggregates.Decoding;

namespace Metering.Aggregates.Admission;

/// <summary>
/// The admission rules of one process. The HTTP edge and the streaming engine must be given the same
/// <see cref="Decoder"/> limits, SKU policy and account policy (the Helm chart sets both from one value each), so that a record the edge
/// accepted is never refused by the engine for the same reason.
/// </summary>
public sealed record AdmissionOptions
{
    /// <summary>Size, identifier, quantity, time and dimension limits, and the clock.</summary>
    public DecoderOptions Decoder { get; init; } = new();

    /// <summary>What a SKU outside <see cref="KnownSkus"/> gets (default: accepted, rated as unpriced).</summary>
    public UnknownSkuPolicy UnknownSkus { get; init; } = UnknownSkuPolicy.Accept;

    /// <summary>The SKUs the price books know (used only with <see cref="UnknownSkuPolicy.Reject"/>).</summary>
    public IReadOnlySet<string>? KnownSkus { get; init; }

    /// <summary>What an account without a row in the ledger gets (default: accepted, created on the list book by the flush).</summary>
    public UnknownAccountPolicy UnknownAccounts { get; init; } = UnknownAccountPolicy.Auto;

    /// <summary>The accounts that exist (used only with <see cref="UnknownAccountPolicy.Reject"/>).</summary>
    public IAccountDirectory? Accounts { get; init; }

    /// <summary>
    /// Oldest event time admitted, as an age behind the clock; null = no limit (the engine, whose lateness window
    /// trails the newest event time, and the file mode, which replays history). The HTTP edge sets it to its estimate
    /// of the engine's window (<see cref="LatenessRule.EdgeMaxAge"/>: lateness - clock skew - a grace for consumer
    /// lag), so it refuses with a receipt what the engine would dead-letter as <c>expired_time</c>.
    /// </summary>
    public TimeSpan? MaxAge { get; init; }

    /// <summary>Throws when the options contradict each other, naming the option.</summary>
    public void Validate()
    {
        Decoder.Validate();
        if (UnknownSkus == UnknownSkuPolicy.Reject && KnownSkus is null)
        {
            throw new ArgumentException("rejecting unknown SKUs needs the set of known SKUs (a price book)", nameof(KnownSkus));
        }

        if (UnknownAccounts == UnknownAccountPolicy.Reject && Accounts is null)
        {
            throw new ArgumentException("rejecting unknown accounts needs the account directory (PostgreSQL's accounts)", nameof(Accounts));
        }

        if (MaxAge is { } age && age <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAge), age, "must be positive");
        }
    }
}
