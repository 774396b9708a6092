using System.Text.Json;

namespace Metering.Aggregates.Dedup;

/// <summary>
/// The dead-letter and receipt detail of a <see cref="DedupVerdict.Conflict"/>, the same text from the engine, the
/// file mode and the HTTP edge. Only the payload digest of the first record is remembered, not its fields, so the
/// detail names the id and says that the billed payload differs, not which field. Cold path: a conflict is rare, and
/// reading the id back out of the raw record costs one small parse.
/// </summary>
public static class ConflictDetail
{
    /// <summary>The text every conflict detail starts with (receipts and dead letters; docs/usage-records.md).</summary>
    public const string Text = "payload differs from the record first accepted with this id";

    /// <summary>The detail for <paramref name="raw"/>, a record the parser accepted; <paramref name="where"/> says which horizon knew the id.</summary>
    public static string Of(ReadOnlySpan<byte> raw, string where)
    {
        string? id = null, account = null;
        try
        {
            var reader = new Utf8JsonReader(raw, new JsonReaderOptions { MaxDepth = 3 });
            reader.Read();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName && (id is null || account is null))
            {
                var isId = reader.ValueTextEquals("id"u8);
                var isAccount = reader.ValueTextEquals("account"u8);
                reader.Read();
                if (isId)
                {
                    id = reader.GetString();
                }
                else if (isAccount)
                {
                    account = reader.GetString();
                }
                else
                {
                    reader.Skip();
                }
            }
        }
        catch (JsonException)
        {
            // Cannot happen for a record the parser accepted; the detail then goes without the names.
        }
        catch (InvalidOperationException)
        {
        }

        return id is null || account is null
            ? $"{Text} (sku, quantity, time or dimensions; {where})"
            : $"id '{id}' of account '{account}': {Text} (sku, quantity, time or dimensions; {where})";
    }
}
