using Metering.Aggregates.Admission;

namespace Metering.UnitTests.Admission;

/// <summary>An account directory in memory that tests add accounts to, bumping its version as the ledger's does.</summary>
internal sealed class GrowingAccountDirectory(params string[] accounts) : IAccountDirectory
{
    private readonly HashSet<string> _accounts = new(accounts, StringComparer.Ordinal);

    public long Version { get; private set; } = 1;

    /// <summary>How often admission asked (its cache should keep this to once per account and version).</summary>
    public int Lookups { get; private set; }

    public bool Contains(string account)
    {
        Lookups++;
        return _accounts.Contains(account);
    }

    public void Add(string account)
    {
        _accounts.Add(account);
        Version++;
    }
}
