namespace Metering.Aggregates.Records;

/// <summary>
/// Why a usage record was not accepted. Every rejected record goes to the dead-letter output with one of these,
/// its position and a detail text; <see cref="RejectReasons.Code"/> gives the stable snake_case name used in
/// dead letters and metrics (documented in docs/usage-records.md).
/// </summary>
public enum RejectReason : byte
{
    /// <summary>Not rejected.</summary>
    None = 0,
    /// <summary>The line is not one well-formed JSON object.</summary>
    MalformedJson,
    /// <summary>The line is not valid UTF-8.</summary>
    InvalidUtf8,
    /// <summary>The line is longer than the configured maximum.</summary>
    LineTooLong,
    /// <summary>A required field (id, account, sku, quantity, time) is absent.</summary>
    MissingField,
    /// <summary>A field has the wrong JSON type, or appears twice.</summary>
    InvalidField,
    /// <summary>id, account or sku is empty or longer than 128 bytes.</summary>
    InvalidIdentifier,
    /// <summary>quantity is not a decimal number.</summary>
    InvalidQuantity,
    /// <summary>quantity is below zero.</summary>
    NegativeQuantity,
    /// <summary>quantity has more than 9 fractional digits.</summary>
    QuantityPrecision,
    /// <summary>quantity exceeds the per-record maximum.</summary>
    QuantityTooLarge,
    /// <summary>time is not an RFC 3339 timestamp.</summary>
    InvalidTime,
    /// <summary>time is further in the future than the allowed clock skew.</summary>
    FutureTime,
    /// <summary>time is older than the dedup horizon, so its id can no longer be checked for duplicates.</summary>
    ExpiredTime,
    /// <summary>dimensions is not a flat object of strings, or a key or value is too long.</summary>
    InvalidDimensions,
    /// <summary>dimensions has more entries than allowed.</summary>
    TooManyDimensions,
    /// <summary>The number of distinct accounts, SKUs or dimension sets reached its configured limit.</summary>
    CardinalityLimit,
    /// <summary>The aggregate table reached its active-key limit and the policy is to reject.</summary>
    AggregateKeyLimit,
    /// <summary>The SKU is in no price book and unknown SKUs are refused by configuration.</summary>
    UnknownSku,
    /// <summary>The HTTP edge's per-account or per-credential cardinality limit was reached (edge only).</summary>
    EdgeCardinalityLimit,
    /// <summary>The ledger (PostgreSQL) refused the record's data; isolated from its flush so the others commit.</summary>
    LedgerRejected,
    /// <summary>The id was accepted before within the dedup horizon with another billed payload (sku, quantity, time or dimensions).</summary>
    Conflict,
    /// <summary>The account has no row in the ledger and unknown accounts are refused by configuration.</summary>
    UnknownAccount,
    /// <summary>A CloudEvent whose type the event mapping does not name (docs/cloudevents.md).</summary>
    UnmappedEventType,
    /// <summary>Not a valid CloudEvents 1.0 event: a required attribute missing or of the wrong type, another specversion, data that is not JSON.</summary>
    InvalidCloudEvent,
}
