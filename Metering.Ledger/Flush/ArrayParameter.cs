using Npgsql;

namespace Metering.Ledger.Flush;

/// <summary>The flush writes sets of rows as one statement over <c>unnest</c> of array parameters: this builds one.</summary>
internal static class ArrayParameter
{
    public static NpgsqlParameter Of<T>(IEnumerable<T> values) => new() { Value = values.ToArray() };
}
