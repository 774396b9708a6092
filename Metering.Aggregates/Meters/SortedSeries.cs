namespace Metering.Aggregates.Meters;

/// <summary>How a series combines two values of one key: the later reading's rule, a bucket's sum.</summary>
internal interface ISeriesCombine<T>
{
    static abstract T Combine(T existing, T added);
}

/// <summary>The higher level stands (time_weighted: two readings at one instant).</summary>
internal readonly struct HigherLevel : ISeriesCombine<long>
{
    public static long Combine(long existing, long added) => Math.Max(existing, added);
}

/// <summary>Sums add (percentile: a bucket's records).</summary>
internal readonly struct AddedSum : ISeriesCombine<Int128>
{
    public static Int128 Combine(Int128 existing, Int128 added) => existing + added;
}

/// <summary>
/// Values keyed by a long, keys strictly ascending, at most <see cref="MaxCount"/> keys (one more and the series is
/// <see cref="IsOverBound"/> for good, and keeps what it has). The storage of <see cref="TimeWeightedState"/> (reading
/// time → level) and <see cref="PercentileState"/> (bucket → sum). A key equal to the previous one's is a compare and a
/// combine; a key after the last appends (the arrays double, up to the bound: the only allocation); an earlier one is a
/// binary search and, if new, a shift. One writer at a time.
/// </summary>
internal sealed class SortedSeries<TValue, TCombine>
    where TValue : struct
    where TCombine : struct, ISeriesCombine<TValue>
{
    private long[] _keys;
    private TValue[] _values;
    private int _last; // where the previous key was: consecutive records of a bucket (or instant) skip the search

    public SortedSeries(int maxCount, int initialCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(initialCapacity, 1);
        MaxCount = maxCount;
        _keys = new long[initialCapacity];
        _values = new TValue[initialCapacity];
    }

    public int MaxCount { get; }

    public int Count { get; private set; }

    public bool IsOverBound { get; set; }

    public ReadOnlySpan<long> Keys => _keys.AsSpan(0, Count);

    public ReadOnlySpan<TValue> Values => _values.AsSpan(0, Count);

    /// <summary>The value of <paramref name="key"/>, or false.</summary>
    public bool TryGet(long key, out TValue value)
    {
        var at = Array.BinarySearch(_keys, 0, Count, key);
        value = at >= 0 ? _values[at] : default;
        return at >= 0;
    }

    public void Add(long key, TValue value)
    {
        var n = Count;
        if (n > 0 && _keys[_last] == key)
        {
            _values[_last] = TCombine.Combine(_values[_last], value);
            return;
        }

        int at;
        if (n == 0 || key > _keys[n - 1])
        {
            at = n;
        }
        else
        {
            at = Array.BinarySearch(_keys, 0, n, key);
            if (at >= 0)
            {
                _values[at] = TCombine.Combine(_values[at], value);
                _last = at;
                return;
            }

            at = ~at;
        }

        if (IsOverBound)
        {
            return;
        }

        if (n >= MaxCount)
        {
            IsOverBound = true;
            return;
        }

        if (n == _keys.Length)
        {
            var size = Math.Min(Math.Max(4, n * 2), MaxCount);
            Array.Resize(ref _keys, size);
            Array.Resize(ref _values, size);
        }

        if (at < n)
        {
            Array.Copy(_keys, at, _keys, at + 1, n - at);
            Array.Copy(_values, at, _values, at + 1, n - at);
        }

        _keys[at] = key;
        _values[at] = value;
        _last = at;
        Count = n + 1;
    }

    /// <summary>Adds every key of <paramref name="other"/> and its over-bound flag: a linear merge of the two sorted runs.</summary>
    public void Merge(SortedSeries<TValue, TCombine> other)
    {
        if (other.IsOverBound)
        {
            IsOverBound = true;
        }

        if (IsOverBound || other.Count == 0)
        {
            return;
        }

        var keys = new long[Count + other.Count];
        var values = new TValue[keys.Length];
        int i = 0, j = 0, k = 0;
        while (i < Count || j < other.Count)
        {
            if (j == other.Count || (i < Count && _keys[i] < other._keys[j]))
            {
                (keys[k], values[k]) = (_keys[i], _values[i]);
                i++;
            }
            else if (i == Count || other._keys[j] < _keys[i])
            {
                (keys[k], values[k]) = (other._keys[j], other._values[j]);
                j++;
            }
            else
            {
                (keys[k], values[k]) = (_keys[i], TCombine.Combine(_values[i], other._values[j]));
                i++;
                j++;
            }

            k++;
        }

        if (k > MaxCount)
        {
            IsOverBound = true;
            return;
        }

        (_keys, _values, Count, _last) = (keys, values, k, 0);
    }

    /// <summary>Fills a series read back from bytes: keys ascending, at most the capacity it was made with.</summary>
    public void Append(long key, TValue value)
    {
        _keys[Count] = key;
        _values[Count] = value;
        Count++;
    }
}
