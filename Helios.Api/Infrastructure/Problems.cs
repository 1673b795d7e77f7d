using Helios.Core.Events;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Helios.Api.Infrastructure;

public static class Problems
{
    /// <summary>RFC 7807 validation problem whose errors are keyed by the offending field.</summary>
    public static ValidationProblem Field(string field, string reason, string title = "The request is invalid.") =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [reason] }, title: title);

    public static ValidationProblem Event(EventError error, string prefix = "") =>
        Field(prefix + error.Field, error.Reason, "The event is invalid.");
}
