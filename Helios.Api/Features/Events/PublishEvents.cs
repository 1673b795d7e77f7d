using System.Text.Json;
using Confluent.Kafka;
using Helios.Api.Infrastructure;
using Helios.Core.Events;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Helios.Api.Features.Events;

public sealed record EventRejection(int Index, string Field, string Reason);

public sealed record PublishEventsResponse(int Accepted, int Rejected, IReadOnlyList<EventRejection> Errors);

/// <summary>POST /api/v1/events and /api/v1/events/batch: validate, then produce to Kafka; bad events never block good ones.</summary>
public static class PublishEvents
{
    public const int MaxBatch = 1000;

    /// <summary>1000 events of a few hundred bytes fit with room to spare.</summary>
    public const long MaxBodyBytes = 4 * 1024 * 1024;

    public static IHostApplicationBuilder AddEvents(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<EventPublisher>();
        return builder;
    }

    public static IEndpointRouteBuilder MapEventsEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/v1/events").WithTags("Events").WithMetadata(new RequestSizeLimitMetadata(MaxBodyBytes));
        group.MapPost("/", PublishOne).WithName("PublishEvent").WithSummary("Validate one event and produce it to the events topic.")
            .Accepts<JsonElement>("application/json");
        group.MapPost("/batch", PublishBatch).WithName("PublishEventBatch").WithSummary("Validate 1 to 1000 events; valid ones are produced, invalid ones reported by index and field.")
            .Accepts<JsonElement>("application/json");
        return app;
    }

    public static async Task<Results<Accepted<PublishEventsResponse>, ValidationProblem, ProblemHttpResult>> PublishOne(HttpRequest request, EventPublisher publisher, CancellationToken ct)
    {
        using var body = await ReadJsonAsync(request, ct);
        if (body is null)
        {
            return Problems.Field("$", "Body must be a JSON event object.");
        }

        if (!EventParser.TryParse(body.RootElement, out var evt, out var error))
        {
            return Problems.Event(error!);
        }

        return await PublishAsync(publisher, [evt!], [], ct);
    }

    public static async Task<Results<Accepted<PublishEventsResponse>, ValidationProblem, ProblemHttpResult>> PublishBatch(HttpRequest request, EventPublisher publisher, CancellationToken ct)
    {
        using var body = await ReadJsonAsync(request, ct);
        var items = body?.RootElement switch
        {
            { ValueKind: JsonValueKind.Array } array => array,
            { ValueKind: JsonValueKind.Object } obj when obj.TryGetProperty("events", out var e) && e.ValueKind == JsonValueKind.Array => e,
            _ => (JsonElement?)null,
        };
        if (items is not { } list)
        {
            return Problems.Field("events", "Body must be {\"events\": [...]} or a JSON array of events.");
        }

        var count = list.GetArrayLength();
        if (count is < 1 or > MaxBatch)
        {
            return Problems.Field("events", $"A batch holds 1 to {MaxBatch} events (got {count}).");
        }

        var valid = new List<TelemetryEvent>(count);
        var errors = new List<EventRejection>();
        var index = 0;
        foreach (var item in list.EnumerateArray())
        {
            if (EventParser.TryParse(item, out var evt, out var error))
            {
                valid.Add(evt!);
            }
            else
            {
                errors.Add(new EventRejection(index, $"events[{index}].{error!.Field}", error.Reason));
            }

            index++;
        }

        if (valid.Count == 0)
        {
            return TypedResults.ValidationProblem(
                errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Reason).ToArray()),
                title: "Every event in the batch is invalid.");
        }

        return await PublishAsync(publisher, valid, errors, ct);
    }

    private static async Task<Results<Accepted<PublishEventsResponse>, ValidationProblem, ProblemHttpResult>> PublishAsync(
        EventPublisher publisher, List<TelemetryEvent> valid, List<EventRejection> errors, CancellationToken ct)
    {
        try
        {
            await publisher.PublishAsync(valid, ct);
        }
        catch (ProduceException<string, byte[]> ex)
        {
            return TypedResults.Problem($"Kafka did not accept the events: {ex.Error.Reason}", statusCode: StatusCodes.Status503ServiceUnavailable, title: "Event broker unavailable");
        }

        return TypedResults.Accepted((string?)null, new PublishEventsResponse(valid.Count, errors.Count, errors));
    }

    private static async Task<JsonDocument?> ReadJsonAsync(HttpRequest request, CancellationToken ct)
    {
        try
        {
            return await JsonDocument.ParseAsync(request.Body, cancellationToken: ct);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private sealed class RequestSizeLimitMetadata(long limit) : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata
    {
        public long? MaxRequestBodySize => limit;
    }
}
