using System.Globalization;

namespace Metering.Aggregates.Records;

/// <summary>
/// Exact fixed-point quantities with 9 fractional digits ("nano-units"). A record's quantity is a
/// <see cref="long"/> of nano-units; a sum is an <see cref="Int128"/> of nano-units. No binary floating point is
/// ever involved: text is parsed digit by digit and formatted digit by digit.
/// </summary>
public static class FixedPoint
{
    /// <summary>Fractional digits kept exactly.</summary>
    public const int Scale = 9;

    /// <summary>10^9: nano-units per unit.</summary>
    public const long NanosPerUnit = 1_000_000_000;

    /// <summary>The largest quantity one record may carry: 9,223,372,036.854775807 units (long.MaxValue nanos).</summary>
    public const long MaxRecordNanos = long.MaxValue;

    /// <summary>Result of <see cref="TryParse"/>.</summary>
    public enum ParseStatus : byte
    {
        /// <summary>Parsed.</summary>
        Ok,
        /// <summary>Not a decimal number.</summary>
        Invalid,
        /// <summary>A minus sign on a non-zero value.</summary>
        Negative,
        /// <summary>More than 9 non-zero fractional digits.</summary>
        TooPrecise,
        /// <summary>Larger than <see cref="MaxRecordNanos"/>.</summary>
        TooLarge,
    }

    /// <summary>
    /// Parses a JSON number or a plain decimal string (<c>-?digits(.digits)?([eE][+-]?digits)?</c>) into nano-units,
    /// exactly. Trailing fractional zeros beyond 9 digits are allowed ("1.5000000000" is fine); any other digit
    /// beyond the ninth is <see cref="ParseStatus.TooPrecise"/>, never rounded.
    /// </summary>
    public static ParseStatus TryParse(ReadOnlySpan<byte> text, out long nanos)
    {
        nanos = 0;
        var i = 0;
        var negative = false;
        if (i < text.Length && text[i] == (byte)'-')
        {
            negative = true;
            i++;
        }

        // Collect significant digits into an Int128 mantissa with a decimal exponent, so that
        // exponents ("1.5e3") are exact as well.
        Int128 mantissa = 0;
        var exponent = 0;
        var digits = 0;
        var significant = 0;
        var sawDot = false;
        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (c is >= (byte)'0' and <= (byte)'9')
            {
                digits++;
                if (significant > 0 || c != '0')
                {
                    significant++;
                }

                if (significant > 30)
                {
                    // More than 30 significant digits: either too large or too precise; decide below.
                    if (c != '0')
                    {
                        return sawDot ? ParseStatus.TooPrecise : ParseStatus.TooLarge;
                    }

                    if (!sawDot)
                    {
                        exponent++;
                    }

                    continue;
                }

                mantissa = (mantissa * 10) + (c - '0');
                if (sawDot)
                {
                    exponent--;
                }
            }
            else if (c == '.' && !sawDot)
            {
                sawDot = true;
                if (digits == 0)
                {
                    return ParseStatus.Invalid;
                }
            }
            else
            {
                break;
            }
        }

        if (digits == 0 || (sawDot && text[i - 1] == '.'))
        {
            return ParseStatus.Invalid;
        }

        if (i < text.Length && (text[i] == 'e' || text[i] == 'E'))
        {
            i++;
            var expNegative = false;
            if (i < text.Length && (text[i] == '+' || text[i] == '-'))
            {
                expNegative = text[i] == '-';
                i++;
            }

            var expDigits = 0;
            var e = 0;
            for (; i < text.Length && text[i] is >= (byte)'0' and <= (byte)'9'; i++)
            {
                expDigits++;
                if (e < 10_000)
                {
                    e = (e * 10) + (text[i] - '0');
                }
            }

            if (expDigits == 0)
            {
                return ParseStatus.Invalid;
            }

            exponent += expNegative ? -e : e;
        }

        if (i != text.Length)
        {
            return ParseStatus.Invalid;
        }

        if (mantissa == 0)
        {
            return ParseStatus.Ok; // "-0" and "0e5" are zero.
        }

        if (negative)
        {
            return ParseStatus.Negative;
        }

        // value = mantissa * 10^exponent; nanos = mantissa * 10^(exponent + 9).
        var shift = exponent + Scale;
        if (shift < 0)
        {
            // Drop trailing zeros; anything else is sub-nano precision.
            while (shift < 0)
            {
                var (q, r) = Int128.DivRem(mantissa, 10);
                if (r != 0)
                {
                    return ParseStatus.TooPrecise;
                }

                mantissa = q;
                shift++;
            }
        }
        else
        {
            for (; shift > 0; shift--)
            {
                if (mantissa > long.MaxValue)
                {
                    return ParseStatus.TooLarge;
                }

                mantissa *= 10;
            }
        }

        if (mantissa > long.MaxValue)
        {
            return ParseStatus.TooLarge;
        }

        nanos = (long)mantissa;
        return ParseStatus.Ok;
    }

    /// <summary>Formats nano-units as a plain decimal string with no trailing fractional zeros ("1536.25", "0").</summary>
    public static string Format(Int128 nanos)
    {
        Span<char> buffer = stackalloc char[48];
        return new string(buffer[..Format(nanos, buffer)]);
    }

    /// <summary>Formats into <paramref name="destination"/> (at least 48 chars); returns the length written.</summary>
    public static int Format(Int128 nanos, Span<char> destination)
    {
        var negative = nanos < 0;
        var magnitude = negative ? (UInt128)(-nanos) : (UInt128)nanos;
        var (whole, frac) = UInt128.DivRem(magnitude, NanosPerUnit);
        var pos = 0;
        if (negative)
        {
            destination[pos++] = '-';
        }

        whole.TryFormat(destination[pos..], out var written, default, CultureInfo.InvariantCulture);
        pos += written;
        if (frac != 0)
        {
            destination[pos++] = '.';
            var f = (ulong)frac;
            var fracDigits = Scale;
            while (f % 10 == 0)
            {
                f /= 10;
                fracDigits--;
            }

            for (var d = fracDigits - 1; d >= 0; d--)
            {
                destination[pos + d] = (char)('0' + (int)(f % 10));
                f /= 10;
            }

            pos += fracDigits;
        }

        return pos;
    }

    /// <summary>
    /// Converts nano-units to <see cref="decimal"/> exactly. Returns false (overflow, reported by the caller) when
    /// the value does not fit decimal's 96-bit mantissa at scale 9, i.e. above about 7.9 x 10^19 units.
    /// </summary>
    public static bool TryToDecimal(Int128 nanos, out decimal value)
    {
        var negative = nanos < 0;
        var magnitude = negative ? (UInt128)(-nanos) : (UInt128)nanos;
        if (magnitude >> 96 != 0)
        {
            value = 0;
            return false;
        }

        var lo = (int)(uint)magnitude;
        var mid = (int)(uint)(magnitude >> 32);
        var hi = (int)(uint)(magnitude >> 64);
        value = new decimal(lo, mid, hi, negative, Scale);
        return true;
    }

    /// <summary>Parses a decimal string into nano-units for sums (tests, ground-truth files); throws on bad input.</summary>
    public static Int128 ParseSum(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var negative = text.StartsWith('-');
        var body = negative ? text.AsSpan(1) : text.AsSpan();
        var dot = body.IndexOf('.');
        var wholePart = dot < 0 ? body : body[..dot];
        var fracPart = dot < 0 ? [] : body[(dot + 1)..];
        if (fracPart.Length > Scale || wholePart.IsEmpty)
        {
            throw new FormatException($"'{text}' is not a decimal with at most {Scale} fractional digits");
        }

        var whole = Int128.Parse(wholePart, NumberStyles.None, CultureInfo.InvariantCulture);
        Int128 frac = 0;
        for (var k = 0; k < Scale; k++)
        {
            frac = (frac * 10) + (k < fracPart.Length ? CheckedDigit(fracPart[k], text) : 0);
        }

        var result = (whole * NanosPerUnit) + frac;
        return negative ? -result : result;
    }

    private static int CheckedDigit(char c, string text) =>
        c is >= '0' and <= '9' ? c - '0' : throw new FormatException($"'{text}' is not a decimal number");
}
