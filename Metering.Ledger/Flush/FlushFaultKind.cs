namespace Metering.Ledger.Flush;

/// <summary>What a failed flush's exception says about its cause (see <see cref="FlushFaults.Classify"/>).</summary>
public enum FlushFaultKind
{
    /// <summary>Neither: a bug or a protocol outcome such as a fence; the engine does not retry or isolate it.</summary>
    Other,

    /// <summary>The database or the path to it failed; the same batch may succeed later, so it is retried.</summary>
    Infrastructure,

    /// <summary>The batch's data was refused; retrying it as is can never succeed, so its records are isolated.</summary>
    Data,
}
