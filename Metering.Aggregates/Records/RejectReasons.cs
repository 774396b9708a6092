namespace Metering.Aggregates.Records;

/// <summary>Stable names for <see cref="RejectReason"/>.</summary>
public static class RejectReasons
{
    private static readonly string[] Codes =
    [
        "none", "malformed_json", "invalid_utf8", "line_too_long", "missing_field", "invalid_field",
        "invalid_identifier", "invalid_quantity", "negative_quantity", "quantity_precision", "quantity_too_large",
        "invalid_time", "future_time", "expired_time", "invalid_dimensions", "too_many_dimensions",
        "cardinality_limit", "aggregate_key_limit", "unknown_sku", "edge_cardinality_limit", "ledger_rejected",
        "conflict", "unknown_account", "unmapped_event_type", "invalid_cloudevent",
    ];

    /// <summary>Number of enum values, for per-reason counter arrays.</summary>
    public const int Count = (int)RejectReason.InvalidCloudEvent + 1;

    /// <summary>The snake_case code of a reason.</summary>
    public static string Code(this RejectReason reason) => Codes[(int)reason];
}
