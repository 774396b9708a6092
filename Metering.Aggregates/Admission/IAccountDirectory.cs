namespace Metering.Aggregates.Admission;

/// <summary>
/// The accounts that exist, as admission sees them under <see cref="UnknownAccountPolicy.Reject"/>. An implementation
/// refreshes itself (the ledger's <c>AccountDirectory</c>: from PostgreSQL, on NOTIFY and by polling) and must be
/// thread-safe for readers and lock-free on <see cref="Contains"/>, which is called on the hot path (once per account
/// id and <see cref="Version"/> by each <see cref="RecordAdmission"/>, which caches the answers).
/// </summary>
public interface IAccountDirectory
{
    /// <summary>Changes whenever the set of accounts changes; admission drops its cached answers when it does.</summary>
    long Version { get; }

    /// <summary>True when <paramref name="account"/> exists (ordinal comparison of the id).</summary>
    bool Contains(string account);
}
