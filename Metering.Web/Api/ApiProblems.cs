using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Metering.Web.Api;

/// <summary>RFC 9457 problem responses of the API; every error body is <c>application/problem+json</c>.</summary>
internal static class ApiProblems
{
    /// <summary>400: one or more parameters are invalid; <c>errors</c> maps each parameter to its reasons.</summary>
    public static ValidationProblem Invalid(Dictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, detail: string.Join("; ", errors.Select(e => $"{e.Key}: {string.Join(", ", e.Value)}")), title: "invalid request parameters", type: "urn:metering:problem:invalid-parameter");

    /// <summary>400: one parameter is invalid.</summary>
    public static ValidationProblem Invalid(string parameter, string reason) => Invalid(new Dictionary<string, string[]> { [parameter] = [reason] });

    /// <summary>403: the token may not read this account.</summary>
    public static ProblemHttpResult ForeignAccount(string account) =>
        TypedResults.Problem($"the token is restricted to another account and may not read '{account}'", statusCode: StatusCodes.Status403Forbidden, title: "forbidden", type: "urn:metering:problem:foreign-account");

    /// <summary>403: an account-bound token tried to change state shared by every account.</summary>
    public static ProblemHttpResult AccountBound(string what) =>
        TypedResults.Problem($"the token is restricted to one account and may not {what}", statusCode: StatusCodes.Status403Forbidden, title: "forbidden", type: "urn:metering:problem:account-bound-token");

    /// <summary>404 with a reason.</summary>
    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "not found", type: "urn:metering:problem:not-found");

    /// <summary>409 with a reason.</summary>
    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "conflict", type: "urn:metering:problem:conflict");
}
