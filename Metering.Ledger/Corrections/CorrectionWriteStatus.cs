namespace Metering.Ledger.Corrections;

/// <summary>What <see cref="CorrectionStore.WriteAsync"/> did.</summary>
public enum CorrectionWriteStatus
{
    /// <summary>The correction was stored.</summary>
    Created,

    /// <summary>The idempotency key was already used for the same request: nothing written, the stored row returned.</summary>
    Replayed,

    /// <summary>The idempotency key was already used for a different request: nothing written.</summary>
    IdempotencyConflict,

    /// <summary>The ledger's state refuses the correction (see <see cref="CorrectionRefusal"/>): nothing written.</summary>
    Refused,
}
