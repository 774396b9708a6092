using Metering.Ledger.Accounts;

namespace Metering.Web.Api;

/// <summary>An account's stored terms as the API shows them; instants in UTC.</summary>
internal sealed record AccountResponse(string Account, string Currency, string ListBook, string? ContractBook, DateTimeOffset Start, DateTimeOffset? End,
    int? AnchorDay, string? TimeZone, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static AccountResponse Of(StoredAccount stored)
    {
        var t = stored.Terms;
        return new AccountResponse(t.Account, t.Currency.Code, t.ListBook, t.ContractBook, t.Start, t.End, t.AnchorDay, t.TimeZone, stored.CreatedAt, stored.UpdatedAt);
    }
}
