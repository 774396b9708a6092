namespace Metering.Web.Api;

/// <summary>The CloudEvents HTTP content modes <c>POST /v1/events</c> takes (docs/cloudevents.md).</summary>
internal enum CloudEventBodyMode
{
    /// <summary><c>application/cloudevents+json</c>: the body is one event.</summary>
    Structured,
    /// <summary><c>application/cloudevents-batch+json</c>: the body is a JSON array of events.</summary>
    Batch,
}
