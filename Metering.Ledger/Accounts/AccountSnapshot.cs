namespace Metering.Ledger.Accounts;

/// <summary>
/// One immutable load of the account ids, with the directory version it was published under. Never mutated after
/// construction, so any number of threads may read <see cref="Accounts"/> without a lock (HashSet reads are safe
/// without writers); a refresh publishes a new snapshot by swapping the reference.
/// </summary>
internal sealed class AccountSnapshot(HashSet<string> accounts, long version)
{
    /// <summary>The account ids (ordinal).</summary>
    public HashSet<string> Accounts { get; } = accounts;

    /// <summary>Bumped when a load differs from the previous one.</summary>
    public long Version { get; } = version;
}
