namespace Metering.Web.HttpIngest;

/// <summary>Receives the records a <see cref="RecordFramer"/> cut out of a body, in order.</summary>
public interface IFramedRecordTarget
{
    /// <summary>One record's bytes (valid only during the call), at most the framer's record limit.</summary>
    void OnRecord(ReadOnlySpan<byte> record);

    /// <summary>A record longer than the limit: <paramref name="length"/> bytes, skipped without being buffered.</summary>
    void OnOversize(long length);
}
