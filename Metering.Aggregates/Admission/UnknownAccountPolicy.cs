namespace Metering.Aggregates.Admission;

/// <summary>What happens to usage for an account that has no row in the ledger's <c>accounts</c> table (docs/api.md#accounts).</summary>
public enum UnknownAccountPolicy
{
    /// <summary>
    /// Accept it; the flush that books its first usage creates the account on the list book (audited, actor
    /// <c>engine</c>). The default: usage was always billed on the list book without a row.
    /// </summary>
    Auto,

    /// <summary>Reject it as <c>unknown_account</c> (at the edge with a receipt, in the engine as a dead letter) until the account is created.</summary>
    Reject,
}
