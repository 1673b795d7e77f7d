using System.Text.Json;
using Helios.ServiceDefaults.Data;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Helios.Api.Features.Models;

public sealed record ModelInfoResponse(
    long Version,
    string Kind,
    bool IsActive,
    double Threshold,
    string ScoreConvention,
    FeatureSchemaInfo FeatureSchema,
    ModelParameters Parameters,
    JsonElement Training,
    JsonElement Evaluation,
    DateTimeOffset CreatedAt);

public sealed record FeatureSchemaInfo(string Name, int Version, string Hash, IReadOnlyList<string> Features);

public sealed record ModelParameters(int Trees, int SamplesPerTree, double Contamination, ulong Seed);

/// <summary>GET /api/v1/model/info: the active model as stored, threshold included (the model's own, not configuration's).</summary>
public static class GetModelInfo
{
    public static IHostApplicationBuilder AddModels(this IHostApplicationBuilder builder) => builder;

    public static IEndpointRouteBuilder MapModelsEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/v1/model/info", Handle).WithTags("Models").WithName("GetModelInfo")
            .WithSummary("The active model of a kind (events by default): version, threshold, schema, parameters, training.");
        return app;
    }

    public static async Task<Results<Ok<ModelInfoResponse>, ProblemHttpResult>> Handle(ModelRegistry registry, CancellationToken ct, string kind = ModelRegistry.EventsKind)
    {
        if (kind is not (ModelRegistry.EventsKind or ModelRegistry.TrafficKind))
        {
            return TypedResults.Problem("kind must be 'events' or 'traffic'.", statusCode: StatusCodes.Status400BadRequest, title: "The request is invalid.");
        }

        if (await registry.GetActiveAsync(kind, ct) is not { } m)
        {
            return TypedResults.Problem($"No active {kind} model yet: the detector registers its bootstrap model when it first starts.",
                statusCode: StatusCodes.Status404NotFound, title: "No active model");
        }

        var manifest = m.Manifest;
        return TypedResults.Ok(new ModelInfoResponse(
            m.Version, m.Kind, m.IsActive, m.Threshold, manifest.ScoreConvention,
            new FeatureSchemaInfo(manifest.SchemaName, manifest.SchemaVersion, manifest.SchemaHash, manifest.Features),
            new ModelParameters(manifest.Trees, manifest.SamplesPerTree, manifest.Contamination, manifest.Seed),
            m.Training, m.Evaluation, m.CreatedAt));
    }
}
