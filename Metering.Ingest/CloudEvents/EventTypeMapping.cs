namespace Metering.Ingest.CloudEvents;

/// <summary>
/// What one CloudEvents <c>type</c> meters: the SKU, and where the account, the quantity and each dimension come
/// from (<see cref="ValueSource"/>). Immutable.
/// </summary>
public sealed record EventTypeMapping(string Type, string Sku, ValueSource Account, ValueSource Quantity, IReadOnlyList<KeyValuePair<string, ValueSource>> Dimensions);
