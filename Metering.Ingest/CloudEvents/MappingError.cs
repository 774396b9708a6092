namespace Metering.Ingest.CloudEvents;

/// <summary>An event-mapping problem and where it is, as a JSON path (<c>$.types["com.example.egress"].quantity</c>).</summary>
public sealed record MappingError(string Path, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Path}: {Message}";
}
