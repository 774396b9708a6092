using System.Globalization;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Metering.Aggregates.Records;
using static Metering.UnitTests.Decoding.DecoderTestKit;

namespace Metering.UnitTests.Decoding;

public class DecoderPropertyTests
{
    // Pieces, not chars, so surrogate pairs stay whole: ASCII, characters JSON must escape, and multi-byte UTF-8.
    private static readonly string[] Pieces = ["a", "b", "X", "0", "9", " ", "-", "_", ".", ":", "/", "\\", "\"", "'", "é", "漢", "😀", "\t", "\n", "\u0001"];

    private static Gen<string> Identifier() =>
        Gen.Elements(Pieces).ArrayOf().Select(ps => string.Concat(ps))
            .Where(s => s.Length > 0 && Encoding.UTF8.GetByteCount(s) <= 128);

    /// <summary>Records written by Utf8JsonWriter decode to what JsonDocument reads from the same bytes.</summary>
    [Property(MaxTest = 500)]
    public Property Decoder_agrees_with_JsonDocument()
    {
        var gen =
            from account in Identifier()
            from sku in Identifier()
            from whole in Gen.Choose(0, int.MaxValue)
            from frac in Gen.Choose(0, 999_999_999)
            from digits in Gen.Choose(0, 9)
            from asString in Gen.Elements(true, false)
            from seconds in Gen.Choose(0, 86_400 * 365)
            from offsetMinutes in Gen.Choose(-14 * 60, 14 * 60)
            select (account, sku, whole, frac, digits, asString, seconds, offsetMinutes);
        return Prop.ForAll(gen.ToArbitrary(), t =>
        {
            var fracText = FracDigits(t.frac, t.digits);
            var quantity = t.whole.ToString(CultureInfo.InvariantCulture) + (fracText.Length > 0 ? "." + fracText : "");
            var offset = TimeSpan.FromMinutes(t.offsetMinutes);
            var time = new DateTimeOffset(new DateTime(2025, 1, 1).AddSeconds(t.seconds), offset);
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("id", "id-" + t.seconds);
                w.WriteString("account", t.account);
                w.WriteString("sku", t.sku);
                if (t.asString)
                {
                    w.WriteString("quantity", quantity);
                }
                else
                {
                    w.WritePropertyName("quantity");
                    w.WriteRawValue(quantity);
                }

                w.WriteString("time", time.ToString("yyyy-MM-dd'T'HH:mm:ss.fffzzz", CultureInfo.InvariantCulture));
                w.WriteEndObject();
            }

            var bytes = buffer.WrittenSpan.ToArray();
            using var doc = JsonDocument.Parse(bytes);
            var root = doc.RootElement;
            var (reason, record, _, catalog) = ParseOne(bytes);
            var q = root.GetProperty("quantity");
            var expectedQuantity = decimal.Parse(q.ValueKind == JsonValueKind.String ? q.GetString()! : q.GetRawText(), CultureInfo.InvariantCulture);
            if (!Addressable(t.account) || !Addressable(t.sku))
            {
                return (reason == RejectReason.InvalidIdentifier).Label($"{reason} {Encoding.UTF8.GetString(bytes)}: an identifier breaks the identifier rules");
            }

            var ok = reason == RejectReason.None
                && catalog.Accounts.GetString(record.AccountId) == root.GetProperty("account").GetString()
                && catalog.Skus.GetString(record.SkuId) == root.GetProperty("sku").GetString()
                && record.QuantityNanos == expectedQuantity * 1_000_000_000m
                && record.TimeTicks == DateTimeOffset.Parse(root.GetProperty("time").GetString()!, CultureInfo.InvariantCulture).UtcTicks;
            return ok.Label($"{reason} {Encoding.UTF8.GetString(bytes)} nanos={record.QuantityNanos}");
        });

        static string FracDigits(int frac, int count) => count == 0 ? "" : frac.ToString("D9", CultureInfo.InvariantCulture)[..count];
    }

    /// <summary>
    /// The identifier rules written plainly over UTF-16 (docs/usage-records.md), as the reference for the parser's
    /// byte-level implementation: no control character, no '/' or '\', not '.' or '..', no white space at either end.
    /// </summary>
    internal static bool Addressable(string s) =>
        !s.Any(c => c < 0x20 || c is >= '\u007F' and <= '\u009F' or '/' or '\\' or '\uFFFE' or '\uFFFF')
        && s is not ("." or "..")
        && !char.IsWhiteSpace(s[0]) && !char.IsWhiteSpace(s[^1]);
}
