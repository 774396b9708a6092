namespace Metering.Aggregates.Admission;

/// <summary>What admission does with a SKU that no configured price book knows.</summary>
public enum UnknownSkuPolicy
{
    /// <summary>Accept it: it is metered exactly and rated at 0 as unpriced (the ledger row says <c>unpriced</c>). The default.</summary>
    Accept,

    /// <summary>Reject it as <c>unknown_sku</c> (at the edge with a receipt, in the engine as a dead letter).</summary>
    Reject,
}
