namespace Metering.Web.HttpIngest;

/// <summary>One configured API key: its id (logged, never the key), the SHA-256 of the key, and the accounts it may write (null: every account).</summary>
public sealed record ApiKey(string Id, byte[] KeySha256, IReadOnlyList<string>? Accounts);
