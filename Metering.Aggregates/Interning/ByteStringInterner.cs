using System.IO.Hashing;
using System.Text;

namespace Metering.Aggregates.Interning;

/// <summary>
/// Maps UTF-8 byte strings (account names, SKUs, dimension sets) to dense 1-based integer ids, so the aggregation
/// hot path keys on integers and allocates nothing per record.
/// Thread-safety: lookups of known strings are lock-free and allocation-free from any number of threads;
/// adding a new string takes a lock (cold path: a new account or SKU). Cardinality is bounded by
/// <see cref="MaxCount"/>: past it <see cref="GetOrAdd"/> returns 0 and the caller rejects the record, counted.
/// </summary>
public sealed class ByteStringInterner
{
    private sealed class Table(int capacity)
    {
        public readonly int[] Ids = new int[capacity];
        public readonly ulong[] Hashes = new ulong[capacity];
        public readonly byte[]?[] Values = new byte[]?[capacity / 2 + 1];
        public readonly string?[] Strings = new string?[capacity / 2 + 1];
        public int Mask => Ids.Length - 1;
    }

    private readonly Lock _gate = new();
    private volatile Table _table;
    private int _count;

    /// <summary>Creates an interner that holds at most <paramref name="maxCount"/> distinct strings.</summary>
    public ByteStringInterner(int maxCount, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        MaxCount = maxCount;
        Name = name;
        _table = new Table(64);
    }

    /// <summary>The most distinct strings this interner accepts.</summary>
    public int MaxCount { get; }

    /// <summary>What is interned (for messages): "account", "sku", "dimension set".</summary>
    public string Name { get; }

    /// <summary>Distinct strings interned so far.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Returns the id of <paramref name="utf8"/>, adding it if new; 0 when the cardinality limit is reached.</summary>
    public int GetOrAdd(ReadOnlySpan<byte> utf8)
    {
        var hash = XxHash3.HashToUInt64(utf8);
        var id = Find(_table, utf8, hash);
        return id != 0 ? id : AddSlow(utf8, hash);
    }

    /// <summary>Returns the id of <paramref name="utf8"/> or 0 when it was never interned. Never adds.</summary>
    public int Find(ReadOnlySpan<byte> utf8) => Find(_table, utf8, XxHash3.HashToUInt64(utf8));

    /// <summary>The interned string of <paramref name="id"/> (allocated once, when it was added).</summary>
    public string GetString(int id) => _table.Strings[id - 1] ?? throw new ArgumentOutOfRangeException(nameof(id));

    /// <summary>The UTF-8 bytes of <paramref name="id"/>.</summary>
    public ReadOnlySpan<byte> GetBytes(int id) => _table.Values[id - 1] ?? throw new ArgumentOutOfRangeException(nameof(id));

    private static int Find(Table table, ReadOnlySpan<byte> utf8, ulong hash)
    {
        var mask = table.Mask;
        for (var i = (int)hash & mask; ; i = (i + 1) & mask)
        {
            var id = Volatile.Read(ref table.Ids[i]);
            if (id == 0)
            {
                return 0;
            }

            if (table.Hashes[i] == hash && utf8.SequenceEqual(table.Values[id - 1]))
            {
                return id;
            }
        }
    }

    private int AddSlow(ReadOnlySpan<byte> utf8, ulong hash)
    {
        lock (_gate)
        {
            var table = _table;
            var existing = Find(table, utf8, hash);
            if (existing != 0)
            {
                return existing;
            }

            if (_count >= MaxCount)
            {
                return 0;
            }

            if ((_count + 1) * 2 > table.Ids.Length)
            {
                table = Grow(table);
            }

            var id = _count + 1;
            table.Values[id - 1] = utf8.ToArray();
            table.Strings[id - 1] = Encoding.UTF8.GetString(utf8);
            Insert(table, hash, id);
            Volatile.Write(ref _count, id);
            if (!ReferenceEquals(table, _table))
            {
                _table = table; // publish the grown table only once it is complete
            }

            return id;
        }
    }

    private static void Insert(Table table, ulong hash, int id)
    {
        var mask = table.Mask;
        var i = (int)hash & mask;
        while (table.Ids[i] != 0)
        {
            i = (i + 1) & mask;
        }

        table.Hashes[i] = hash;
        Volatile.Write(ref table.Ids[i], id); // release: readers that see the id see its hash and bytes
    }

    private static Table Grow(Table old)
    {
        var grown = new Table(old.Ids.Length * 2);
        Array.Copy(old.Values, grown.Values, old.Values.Length);
        Array.Copy(old.Strings, grown.Strings, old.Strings.Length);
        for (var i = 0; i < old.Ids.Length; i++)
        {
            if (old.Ids[i] != 0)
            {
                Insert(grown, old.Hashes[i], old.Ids[i]);
            }
        }

        return grown;
    }
}
