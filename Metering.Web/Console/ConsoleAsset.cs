namespace Metering.Web.WebConsole;

/// <summary>One embedded console file: its bytes, its <c>Content-Type</c> and its strong <c>ETag</c>.</summary>
internal sealed record ConsoleAsset(byte[] Bytes, string ContentType, string ETag);
