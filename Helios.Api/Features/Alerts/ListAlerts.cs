using System.Text.Json;
using Helios.Api.Infrastructure;
using Helios.Core.Alerts;
using Helios.Core.Detection;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Helios.Api.Features.Alerts;

public sealed record AlertPage(IReadOnlyList<AnomalyAlert> Items, long Total, int Limit, int Offset);

/// <summary>GET /api/v1/alerts (filters and paging) and GET /api/v1/alerts/{id}.</summary>
public static class ListAlerts
{
    private const string Columns =
        "id, service, severity, score, normalized_score, threshold, features, top_features, explanation, window_start, window_end, event_count, model_version, detected_at, status, suppressed_count, " +
        "detected_by, evidence, evidence_threshold, closed_at";

    private static readonly string[] Statuses = ["open", "acknowledged", "resolved"];

    public static IHostApplicationBuilder AddAlerts(this IHostApplicationBuilder builder) => builder;

    public static IEndpointRouteBuilder MapAlertsEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/alerts").WithTags("Alerts");
        group.MapGet("/", List).WithName("ListAlerts").WithSummary("Alert history, newest first, filtered by service, severity, status and time range.");
        group.MapGet("/{id:guid}", Get).WithName("GetAlert").WithSummary("One alert with its features and explanation.");
        return app;
    }

    public static async Task<Results<Ok<AlertPage>, ValidationProblem>> List(
        NpgsqlDataSource db, CancellationToken ct,
        string? service = null, string? severity = null, string? status = null,
        DateTimeOffset? from = null, DateTimeOffset? to = null, int limit = 50, int offset = 0)
    {
        if (Paging.Check(limit, 500, offset, from, to) is { } problem)
        {
            return problem;
        }

        if (severity is not null && !SeverityPolicy.TryParse(severity, out _))
        {
            return Problems.Field("severity", "Must be one of low, medium, high, critical.");
        }

        if (status is not null && !Statuses.Contains(status))
        {
            return Problems.Field("status", "Must be one of open, acknowledged, resolved.");
        }

        const string where =
            """
            WHERE (@service::text IS NULL OR service = @service)
              AND (@severity::text IS NULL OR severity = @severity)
              AND (@status::text IS NULL OR status = @status)
              AND (@from::timestamptz IS NULL OR window_start >= @from)
              AND (@to::timestamptz IS NULL OR window_start < @to)
            """;
        var (items, total) = await Paging.ReadAsync(db,
            $"SELECT {Columns} FROM alerts {where} ORDER BY detected_at DESC, id LIMIT @limit OFFSET @offset",
            $"SELECT count(*) FROM alerts {where}",
            [("service", service), ("severity", severity?.ToLowerInvariant()), ("status", status), ("from", from), ("to", to)],
            limit, offset, Read, r => r.GetInt64(0), ct);
        return TypedResults.Ok(new AlertPage(items, total, limit, offset));
    }

    public static async Task<Results<Ok<AnomalyAlert>, ProblemHttpResult>> Get(Guid id, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {Columns} FROM alerts WHERE id = @id");
        cmd.Parameters.AddWithValue("id", id);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            ? TypedResults.Ok(Read(reader))
            : TypedResults.Problem($"No alert with id {id}.", statusCode: StatusCodes.Status404NotFound, title: "Alert not found");
    }

    private static AnomalyAlert Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetDouble(3), r.GetDouble(4), r.GetDouble(5),
        JsonSerializer.Deserialize<Dictionary<string, double>>(r.GetString(6))!,
        JsonSerializer.Deserialize<List<TopFeature>>(r.GetString(7))!,
        r.GetString(8), r.GetFieldValue<DateTimeOffset>(9), r.GetFieldValue<DateTimeOffset>(10), r.GetInt32(11), r.GetInt64(12),
        r.GetFieldValue<DateTimeOffset>(13), r.GetString(14), r.GetInt32(15),
        r.GetString(16), r.IsDBNull(17) ? null : r.GetDouble(17), r.IsDBNull(18) ? null : r.GetDouble(18),
        r.IsDBNull(19) ? null : r.GetFieldValue<DateTimeOffset>(19));
}
