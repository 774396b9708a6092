namespace Metering.Web.Api;

/// <summary>
/// One rule group of a close: the stored anchor day and time zone of its accounts (null: the list book's), its
/// period of this close, whether that period is closed, and the final statements the close wrote for it.
/// </summary>
internal sealed record RuleGroupCloseResponse(int? AnchorDay, string? TimeZone, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, bool Closed, int StatementsWritten);
