namespace Metering.DevKit;

/// <summary>
/// A dependency the command needs (the embedded PostgreSQL, redis-server, a configured server) could not be started or
/// reached. The message is one line that says what failed and what to do; the command line prints it without a stack
/// trace and exits 1.
/// </summary>
public sealed class DependencyUnavailableException : Exception
{
    /// <summary>An error whose <paramref name="message"/> says what failed and what to do, on one line.</summary>
    public DependencyUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>As above, keeping the exception that caused it.</summary>
    public DependencyUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
