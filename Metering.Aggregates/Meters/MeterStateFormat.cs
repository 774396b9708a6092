using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Metering.Aggregates.Meters;

/// <summary>
/// The byte layout shared by every meter state: <c>[kind][version]</c>, then the state's fields as LEB128 varints
/// (unsigned; ascending sequences as deltas) and fixed little-endian 128-bit values. A reader checks each declared
/// length against the bytes that remain before allocating, and answers malformed input with a reason, never an
/// exception (a column read back from the ledger is input like any other).
/// </summary>
public static class MeterStateFormat
{
    /// <summary>The format version written by this code.</summary>
    public const byte Version = 1;

    /// <summary>The kind a serialised state holds, or false when the bytes are too short or of an unknown version.</summary>
    public static bool TryPeekKind(ReadOnlySpan<byte> bytes, out MeterStateKind kind)
    {
        kind = default;
        if (bytes.Length < 2 || bytes[1] != Version || bytes[0] is < (byte)MeterStateKind.Extrema or > (byte)MeterStateKind.Percentile)
        {
            return false;
        }

        kind = (MeterStateKind)bytes[0];
        return true;
    }

    internal static int VarSize(ulong value)
    {
        var n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }

        return n;
    }

    internal static int VarSize(UInt128 value)
    {
        var n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }

        return n;
    }

    /// <summary>Writes into a span sized by the state's own size computation.</summary>
    internal ref struct Writer(Span<byte> destination)
    {
        private readonly Span<byte> _destination = destination;
        private int _position;

        public readonly int Position => _position;

        public void Header(MeterStateKind kind)
        {
            _destination[_position++] = (byte)kind;
            _destination[_position++] = Version;
        }

        public void Byte(byte value) => _destination[_position++] = value;

        public void Var(ulong value)
        {
            while (value >= 0x80)
            {
                _destination[_position++] = (byte)(value | 0x80);
                value >>= 7;
            }

            _destination[_position++] = (byte)value;
        }

        public void Var128(UInt128 value)
        {
            while (value >= 0x80)
            {
                _destination[_position++] = (byte)((byte)value | 0x80);
                value >>= 7;
            }

            _destination[_position++] = (byte)value;
        }

        public void Fixed(UInt128 value)
        {
            BinaryPrimitives.WriteUInt128LittleEndian(_destination[_position..], value);
            _position += 16;
        }

        public void Bytes(scoped ReadOnlySpan<byte> value)
        {
            value.CopyTo(_destination[_position..]);
            _position += value.Length;
        }
    }

    /// <summary>Reads a state's bytes; every method returns false on truncated or malformed input.</summary>
    internal ref struct Reader(ReadOnlySpan<byte> source)
    {
        private readonly ReadOnlySpan<byte> _source = source;
        private int _position;

        public readonly int Remaining => _source.Length - _position;

        public bool Header(MeterStateKind kind, [NotNullWhen(false)] out string? error)
        {
            if (_source.Length < 2)
            {
                error = $"{_source.Length} byte(s): a meter state has at least a kind and a version byte";
                return false;
            }

            if (_source[0] != (byte)kind)
            {
                error = $"kind byte {_source[0]} is not {(byte)kind} ({kind})";
                return false;
            }

            if (_source[1] != Version)
            {
                error = $"format version {_source[1]} is not {Version}, the version this code reads";
                return false;
            }

            _position = 2;
            error = null;
            return true;
        }

        public bool Byte(out byte value)
        {
            value = 0;
            if (_position >= _source.Length)
            {
                return false;
            }

            value = _source[_position++];
            return true;
        }

        public bool Var(out ulong value)
        {
            value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (_position >= _source.Length)
                {
                    return false;
                }

                var b = _source[_position++];
                if (shift == 63 && b > 1)
                {
                    return false; // beyond 64 bits
                }

                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return true;
                }
            }

            return false;
        }

        public bool Var128(out UInt128 value)
        {
            value = 0;
            for (var shift = 0; shift < 128; shift += 7)
            {
                if (_position >= _source.Length)
                {
                    return false;
                }

                var b = _source[_position++];
                if (shift == 126 && b > 3)
                {
                    return false; // beyond 128 bits
                }

                value |= (UInt128)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return true;
                }
            }

            return false;
        }

        public bool Fixed(out UInt128 value)
        {
            value = 0;
            if (Remaining < 16)
            {
                return false;
            }

            value = BinaryPrimitives.ReadUInt128LittleEndian(_source[_position..]);
            _position += 16;
            return true;
        }

        public bool Bytes(int length, out ReadOnlySpan<byte> value)
        {
            value = default;
            if (length < 0 || Remaining < length)
            {
                return false;
            }

            value = _source.Slice(_position, length);
            _position += length;
            return true;
        }
    }
}
