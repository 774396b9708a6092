namespace Metering.Analytics;

/// <summary>ClickHouse (embedded or server) refused a statement; the message carries its error text and the statement.</summary>
public sealed class ClickHouseException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ClickHouseException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public ClickHouseException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public ClickHouseException()
    {
    }
}
