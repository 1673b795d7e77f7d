using Helios.Core.Events;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Helios.Api.Infrastructure;

public static class Problems
{
    /// <summary>RFC 7807 validation problem whose errors are keyed by the offending field.</summary>
    public static ValidationProblem Field(string field, string reason, string title = "The request is invalid.") =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [reason] }, title: title);

    /// <summary>The times a range may start or end at: far from DateTimeOffset's limits, so range arithmetic cannot overflow.</summary>
    public static readonly DateTimeOffset Earliest = new(1970, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static readonly DateTimeOffset Latest = new(9000, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>A problem naming the first given time outside <see cref="Earliest"/>..<see cref="Latest"/>, or null.</summary>
    public static ValidationProblem? TimeOutOfRange(params ReadOnlySpan<(string Field, DateTimeOffset? Value)> times)
    {
        foreach (var (field, value) in times)
        {
            if (value is { } t && (t < Earliest || t > Latest))
            {
                return Field(field, $"Must be between {Earliest:yyyy-MM-dd} and {Latest:yyyy-MM-dd}.");
            }
        }

        return null;
    }

    public static ValidationProblem Event(EventError error, string prefix = "") =>
        Field(prefix + error.Field, error.Reason, "The event is invalid.");
}
