namespace Metering.Ledger.Accounts;

/// <summary>What <see cref="AccountStore.SetAsync"/> did.</summary>
public enum AccountWriteStatus
{
    /// <summary>The account had no row; it has one now (audited as 'created').</summary>
    Created,

    /// <summary>The account's terms differed; they were replaced, the previous ones kept in the audit.</summary>
    Updated,

    /// <summary>The same terms were already stored: nothing was written.</summary>
    Unchanged,
}
