using System.Buffers.Text;
using System.Text;

namespace Metering.Web.Api;

/// <summary>
/// The cursor of the lists ordered by account (accounts, statements): the last account of the page, base64url-encoded,
/// opaque to clients; any account id survives it.
/// </summary>
internal static class AccountCursor
{
    /// <summary>
    /// Reads the <c>limit</c> (1 to <paramref name="maxLimit"/>, default <paramref name="defaultLimit"/>) and <c>cursor</c>
    /// query parameters of a list; a bad one adds its problem to <paramref name="errors"/>.
    /// </summary>
    public static (int PageSize, string? After) Page(string? cursor, string? limit, int defaultLimit, int maxLimit, Dictionary<string, string[]> errors)
    {
        var pageSize = defaultLimit;
        if (limit is not null && (!int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out pageSize) || pageSize < 1 || pageSize > maxLimit))
        {
            errors["limit"] = [$"must be an integer from 1 to {maxLimit}, got '{limit}'"];
        }

        string? after = null;
        if (cursor is not null && !TryRead(cursor, out after))
        {
            errors["cursor"] = ["not a cursor of this list (pass next_cursor back unchanged)"];
        }

        return (pageSize, after);
    }

    public static string Of(string lastAccount) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(lastAccount));

    public static bool TryRead(string cursor, out string? after)
    {
        after = null;
        if (cursor.Length is 0 or > 256 || !Base64Url.IsValid(cursor))
        {
            return false;
        }

        try
        {
            after = new UTF8Encoding(false, true).GetString(Base64Url.DecodeFromChars(cursor));
        }
        catch (DecoderFallbackException)
        {
            return false;
        }

        return UsageRequest.IdentifierProblem(after) is null;
    }
}
