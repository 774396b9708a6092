using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using Metering.Ledger.Outbox;

namespace Metering.Analytics;

/// <summary>
/// Encodes rated windows as one Arrow IPC stream (schema + one record batch) in the column order of
/// <see cref="AnalyticsSchema.InsertColumns"/>. Decimals are Decimal128(38, 9), exactly ClickHouse's Decimal(38, 9);
/// times are UTC millisecond timestamps; no floating point anywhere.
/// </summary>
public static class UsageWindowArrow
{
    private static readonly Decimal128Type Money = new(38, 9);
    private static readonly TimestampType Utc = new(TimeUnit.Millisecond, "UTC");

    /// <summary>The Arrow schema of a batch.</summary>
    public static Schema Schema { get; } = new Schema.Builder()
        .Field(f => f.Name("id").DataType(UInt64Type.Default).Nullable(false))
        .Field(f => f.Name("account").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("sku").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("window_start").DataType(Utc).Nullable(false))
        .Field(f => f.Name("window_end").DataType(Utc).Nullable(false))
        .Field(f => f.Name("dimensions").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("quantity").DataType(Money).Nullable(false))
        .Field(f => f.Name("record_count").DataType(UInt64Type.Default).Nullable(false))
        .Field(f => f.Name("amount").DataType(Money).Nullable(false))
        .Field(f => f.Name("currency").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("price_book_hash").DataType(StringType.Default).Nullable(false))
        .Field(f => f.Name("period_start").DataType(Utc).Nullable(false))
        .Build();

    /// <summary>The rows as an Arrow IPC stream.</summary>
    public static byte[] Encode(IReadOnlyList<RatedWindowRow> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var id = new UInt64Array.Builder().Reserve(rows.Count);
        var account = new StringArray.Builder();
        var sku = new StringArray.Builder();
        var windowStart = new TimestampArray.Builder(Utc).Reserve(rows.Count);
        var windowEnd = new TimestampArray.Builder(Utc).Reserve(rows.Count);
        var dimensions = new StringArray.Builder();
        var quantity = new Decimal128Array.Builder(Money).Reserve(rows.Count);
        var count = new UInt64Array.Builder().Reserve(rows.Count);
        var amount = new Decimal128Array.Builder(Money).Reserve(rows.Count);
        var currency = new StringArray.Builder();
        var hash = new StringArray.Builder();
        var period = new TimestampArray.Builder(Utc).Reserve(rows.Count);
        foreach (var r in rows)
        {
            id.Append(checked((ulong)r.Id));
            account.Append(r.Account);
            sku.Append(r.Sku);
            windowStart.Append(r.WindowStart);
            windowEnd.Append(r.WindowEnd);
            dimensions.Append(r.Dimensions);
            quantity.Append(r.Quantity);
            count.Append(checked((ulong)r.RecordCount));
            amount.Append(r.Amount);
            currency.Append(r.Currency);
            hash.Append(r.PriceBookHash);
            period.Append(r.PeriodStart);
        }

        IArrowArray[] columns =
        [
            id.Build(), account.Build(), sku.Build(), windowStart.Build(), windowEnd.Build(), dimensions.Build(),
            quantity.Build(), count.Build(), amount.Build(), currency.Build(), hash.Build(), period.Build(),
        ];
        using var batch = new RecordBatch(Schema, columns, rows.Count);
        using var buffer = new MemoryStream();
        using (var writer = new ArrowStreamWriter(buffer, Schema, leaveOpen: true))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }

        return buffer.ToArray();
    }
}
