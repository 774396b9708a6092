using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

// Not Metering.Web.Console: a namespace of that name would hide System.Console from all of Metering.Web.
namespace Metering.Web.WebConsole;

/// <summary>
/// The usage and billing console (docs/console.md): <c>/console/</c> serves the embedded single-page app, <c>/</c> and
/// <c>/console</c> redirect there. The files are anonymous on purpose: they hold no data (every number is fetched from
/// the API with the signed-in user's token, so the API's scopes and account binding decide what is shown).
/// A strict Content-Security-Policy allows only this origin: no CDN, no inline script, nothing sent elsewhere.
/// </summary>
internal static class ConsoleEndpoints
{
    /// <summary>The policy every console file is served with: scripts, styles and API calls from this origin only.</summary>
    internal const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => TypedResults.Redirect("/console/")).AllowAnonymous().ExcludeFromDescription();
        // Routing treats /console and /console/ as one route; the page's relative links need the slash, so redirect to it.
        app.MapGet("/console", (HttpContext http) => http.Request.Path.Value!.EndsWith('/') ? Serve(http, "index.html") : TypedResults.Redirect("/console/"))
            .AllowAnonymous().ExcludeFromDescription();
        // Where an identity provider sends the browser back (?code=&state=): the page itself, which finishes the sign-in.
        app.MapGet(Api.OidcSettings.CallbackPath, (HttpContext http) => Serve(http, "index.html")).AllowAnonymous().ExcludeFromDescription();
        app.MapGet("/console/{file}", (HttpContext http, string file) => Serve(http, file)).AllowAnonymous().ExcludeFromDescription();
        ConsoleOidcEndpoints.Map(app);
    }

    private static IResult Serve(HttpContext http, string file)
    {
        if (ConsoleAssets.Shared.Find(file) is not { } asset)
        {
            return TypedResults.Problem($"the console has no file '{file}'", statusCode: StatusCodes.Status404NotFound, title: "not found", type: "urn:metering:problem:not-found");
        }

        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        // Revalidated on every load (ETag): a new build's files are never mixed with a cached old one.
        headers.CacheControl = "no-cache";
        headers.ETag = asset.ETag;
        if (http.Request.Headers.IfNoneMatch == asset.ETag)
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        return TypedResults.Bytes(asset.Bytes, asset.ContentType);
    }
}
