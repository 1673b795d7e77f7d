using System.Text.Json.Serialization;
using Helios.Api.Infrastructure;
using Helios.Core.Aggregates;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Helios.Api.Features.Minutes;

/// <summary>One minute of event time: the sums over every service (or the one asked for).</summary>
public sealed record MinuteTotals(
    [property: JsonPropertyName("minute")] DateTimeOffset Minute,
    [property: JsonPropertyName("events")] long Events,
    [property: JsonPropertyName("errors")] long Errors,
    [property: JsonPropertyName("avg_latency_ms")] double? AvgLatencyMs,
    [property: JsonPropertyName("max_latency_ms")] double? MaxLatencyMs);

/// <summary>
/// The stored per-minute aggregates of a range of event time, every minute present (0 when nothing arrived):
/// what the dashboard's overview draws.
/// </summary>
public sealed record EventMinutesResponse(
    [property: JsonPropertyName("from")] DateTimeOffset? From,
    [property: JsonPropertyName("to")] DateTimeOffset? To,
    [property: JsonPropertyName("service")] string? Service,
    [property: JsonPropertyName("events")] long Events,
    [property: JsonPropertyName("errors")] long Errors,
    [property: JsonPropertyName("services")] long Services,
    [property: JsonPropertyName("recent_events_per_s")] double RecentEventsPerSecond,
    [property: JsonPropertyName("minutes")] IReadOnlyList<MinuteTotals> Minutes);

/// <summary>GET /api/v1/events/minutes: events, errors and latency per minute of event time, from the stored aggregates.</summary>
public static class EventMinutes
{
    public const int MaxMinutes = 24 * 60;

    /// <summary>The recent rate is the mean over this many minutes before the range's last one (the newest is usually still filling).</summary>
    public const int RecentMinutes = 5;

    public static IEndpointRouteBuilder MapEventMinutesEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1/events").WithTags("Events")
            .MapGet("/minutes", Get).WithName("GetEventMinutes")
            .WithSummary("Events, errors and latency per minute of event time over every service or one, read from the stored per-minute aggregates; " +
                         "the range ends at 'to' or, by default, after the latest minute stored.");
        return app;
    }

    public static async Task<Results<Ok<EventMinutesResponse>, ValidationProblem>> Get(
        NpgsqlDataSource db, CancellationToken ct, string? service = null, int minutes = 60, DateTimeOffset? to = null)
    {
        if (minutes < 1 || minutes > MaxMinutes)
        {
            return Problems.Field("minutes", $"Must be between 1 and {MaxMinutes}.");
        }

        if (Problems.TimeOutOfRange(("to", to)) is { } outOfRange)
        {
            return outOfRange;
        }

        // By default the range ends with the newest data, not the clock: a replay or a stream whose clocks lag still shows.
        var end = to is { } t ? BucketSize.Floor(t, TimeSpan.FromMinutes(1)) : await LatestMinuteAsync(db, ct) is { } latest ? latest.AddMinutes(1) : (DateTimeOffset?)null;
        if (end is null)
        {
            return TypedResults.Ok(new EventMinutesResponse(null, null, service, 0, 0, 0, 0, []));
        }

        var start = end.Value.AddMinutes(-minutes);
        const string where = "WHERE minute >= @from AND minute < @to AND (@service::text IS NULL OR service = @service)";
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"""
            SELECT minute, sum(events)::bigint, sum(errors)::bigint, sum(latency_count)::bigint, sum(latency_sum), max(latency_max)
            FROM event_minutes {where} GROUP BY minute ORDER BY minute
            """));
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT count(DISTINCT service) FROM event_minutes {where}"));
        foreach (NpgsqlBatchCommand cmd in batch.BatchCommands)
        {
            cmd.Parameters.AddWithValue("from", start);
            cmd.Parameters.AddWithValue("to", end.Value);
            cmd.Parameters.AddWithValue("service", (object?)service ?? DBNull.Value);
        }

        await using var reader = await batch.ExecuteReaderAsync(ct);
        var stored = new Dictionary<DateTimeOffset, MinuteTotals>();
        while (await reader.ReadAsync(ct))
        {
            var latencies = reader.GetInt64(3);
            var minute = reader.GetFieldValue<DateTimeOffset>(0);
            stored[minute] = new MinuteTotals(minute, reader.GetInt64(1), reader.GetInt64(2),
                latencies == 0 ? null : reader.GetDouble(4) / latencies, reader.IsDBNull(5) ? null : reader.GetDouble(5));
        }

        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        var services = reader.GetInt64(0);

        var all = new MinuteTotals[minutes];
        // The recent rate leaves out the range's last minute (usually still filling), unless that is all there is.
        var (recentFrom, recentTo) = minutes == 1 ? (0, 1) : (Math.Max(0, minutes - 1 - RecentMinutes), minutes - 1);
        long events = 0, errors = 0, recentEvents = 0;
        for (var i = 0; i < minutes; i++)
        {
            var minute = start.AddMinutes(i);
            var m = all[i] = stored.TryGetValue(minute, out var found) ? found : new MinuteTotals(minute, 0, 0, null, null);
            events += m.Events;
            errors += m.Errors;
            recentEvents += i >= recentFrom && i < recentTo ? m.Events : 0;
        }

        return TypedResults.Ok(new EventMinutesResponse(start, end, service, events, errors, services, recentEvents / ((recentTo - recentFrom) * 60.0), all));
    }

    /// <summary>The newest minute in the aggregates, or null when nothing is stored (one index probe and the small pending table).</summary>
    public static async Task<DateTimeOffset?> LatestMinuteAsync(NpgsqlDataSource db, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT greatest((SELECT max(minute) FROM event_minutes_folded), (SELECT max(minute) FROM event_minutes_pending))");
        return await cmd.ExecuteScalarAsync(ct) is DateTime latest ? new DateTimeOffset(latest, TimeSpan.Zero) : null;
    }
}
