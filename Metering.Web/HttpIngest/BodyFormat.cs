namespace Metering.Web.HttpIngest;

/// <summary>How the records of a request body are framed.</summary>
public enum BodyFormat
{
    /// <summary><c>application/x-ndjson</c>: one record per line; blank lines are not records.</summary>
    Ndjson,

    /// <summary><c>application/json</c>: one JSON array whose elements are the records.</summary>
    JsonArray,
}
