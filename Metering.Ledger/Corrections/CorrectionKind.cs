namespace Metering.Ledger.Corrections;

/// <summary>What a correction does (the <c>kind</c> column and the API's <c>kind</c> field, in lower case).</summary>
public enum CorrectionKind
{
    /// <summary>Takes one usage event back: its quantity becomes 0. Nothing can follow a void of the same event.</summary>
    Void,

    /// <summary>Gives one usage event a new quantity (0 allowed); amends of one event chain.</summary>
    Amend,

    /// <summary>A manual money adjustment in the customer's favour (stored negative).</summary>
    Credit,

    /// <summary>A manual money adjustment charged to the customer (stored positive).</summary>
    Debit,
}
