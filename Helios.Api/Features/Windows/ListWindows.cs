using System.Text.Json.Serialization;
using Helios.Api.Infrastructure;
using Helios.Core.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Npgsql;

namespace Helios.Api.Features.Windows;

/// <summary>A closed window as the detector recorded it, with the events that arrived after it closed (late_events).</summary>
public sealed record ScoredWindow(
    [property: JsonPropertyName("service")] string Service,
    [property: JsonPropertyName("window_start")] DateTimeOffset WindowStart,
    [property: JsonPropertyName("window_end")] DateTimeOffset WindowEnd,
    [property: JsonPropertyName("event_count")] int EventCount,
    [property: JsonPropertyName("late_events")] int LateEvents,
    [property: JsonPropertyName("scored")] bool Scored,
    [property: JsonPropertyName("score")] double? Score,
    [property: JsonPropertyName("decision")] double? Decision,
    [property: JsonPropertyName("surprise")] double? Surprise,
    [property: JsonPropertyName("evidence")] double? Evidence,
    [property: JsonPropertyName("is_anomaly")] bool IsAnomaly,
    [property: JsonPropertyName("alert_id")] Guid? AlertId,
    [property: JsonPropertyName("model_version")] long? ModelVersion,
    [property: JsonPropertyName("features")] IReadOnlyDictionary<string, double>? Features,
    [property: JsonPropertyName("scored_at")] DateTimeOffset ScoredAt);

public sealed record WindowPage(
    [property: JsonPropertyName("items")] IReadOnlyList<ScoredWindow> Items,
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("late_events")] long LateEvents,
    [property: JsonPropertyName("limit")] int Limit,
    [property: JsonPropertyName("offset")] int Offset);

/// <summary>GET /api/v1/windows: every window the detector closed, newest first; late_only=true lists the windows that missed events.</summary>
public static class ListWindows
{
    public static IEndpointRouteBuilder MapWindowsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1/windows").WithTags("Windows")
            .MapGet("/", List).WithName("ListWindows")
            .WithSummary("Closed windows with their score, evidence, alert and late events, filtered by service, time range, late or anomalous only.");
        return app;
    }

    public static async Task<Results<Ok<WindowPage>, ValidationProblem>> List(
        NpgsqlDataSource db, CancellationToken ct,
        string? service = null, DateTimeOffset? from = null, DateTimeOffset? to = null,
        [FromQuery(Name = "late_only")] bool lateOnly = false, [FromQuery(Name = "anomalous_only")] bool anomalousOnly = false, int limit = 100, int offset = 0)
    {
        if (Paging.Check(limit, 1000, offset, from, to) is { } problem)
        {
            return problem;
        }

        const string where =
            """
            WHERE (@service::text IS NULL OR service = @service)
              AND (@from::timestamptz IS NULL OR window_start >= @from)
              AND (@to::timestamptz IS NULL OR window_start < @to)
              AND (NOT @late_only OR late_events > 0)
              AND (NOT @anomalous_only OR is_anomaly)
            """;
        var (items, totals) = await Paging.ReadAsync(db,
            $"""
            SELECT service, window_start, window_end, event_count, late_events, scored, score, decision, surprise, evidence,
                   is_anomaly, alert_id, model_version, features, scored_at
            FROM scored_windows {where} ORDER BY window_start DESC, service LIMIT @limit OFFSET @offset
            """,
            $"SELECT count(*), coalesce(sum(late_events), 0) FROM scored_windows {where}",
            [("service", service), ("from", from), ("to", to), ("late_only", lateOnly), ("anomalous_only", anomalousOnly)],
            limit, offset, Read, r => (Count: r.GetInt64(0), Late: r.GetInt64(1)), ct);
        return TypedResults.Ok(new WindowPage(items, totals.Count, totals.Late, limit, offset));
    }

    private static ScoredWindow Read(NpgsqlDataReader r)
    {
        double? Nullable(int i) => r.IsDBNull(i) ? null : r.GetDouble(i);
        var values = r.IsDBNull(13) ? null : r.GetFieldValue<double[]>(13);
        var names = EventWindowFeatures.Schema.Features;
        var features = values?.Length == names.Count ? names.Zip(values).ToDictionary(p => p.First, p => p.Second) : null;
        return new ScoredWindow(
            r.GetString(0), r.GetFieldValue<DateTimeOffset>(1), r.GetFieldValue<DateTimeOffset>(2), r.GetInt32(3), r.GetInt32(4), r.GetBoolean(5),
            Nullable(6), Nullable(7), Nullable(8), Nullable(9), r.GetBoolean(10), r.IsDBNull(11) ? null : r.GetGuid(11),
            r.IsDBNull(12) ? null : r.GetInt64(12), features, r.GetFieldValue<DateTimeOffset>(14));
    }
}
