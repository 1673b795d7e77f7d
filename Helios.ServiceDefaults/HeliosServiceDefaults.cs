using System.Text.Json;
using Helios.ServiceDefaults.Configuration;
using Helios.ServiceDefaults.Data;
using Helios.ServiceDefaults.Health;
using Helios.ServiceDefaults.Kafka;
using Helios.ServiceDefaults.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Microsoft.Extensions.Hosting;

/// <summary>What every Helios service shares: configuration aliases, telemetry, health, data and Kafka clients.</summary>
public static class HeliosServiceDefaults
{
    private const string LiveTag = "live";

    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        var aliases = SeedAliases.Resolve(Environment.GetEnvironmentVariables(), key => builder.Configuration[key]);
        if (aliases.Count > 0)
        {
            builder.Configuration.AddInMemoryCollection(aliases);
        }

        builder.Services.AddOptions<KafkaTopicsOptions>().Bind(builder.Configuration.GetSection(KafkaTopicsOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<DetectionOptions>().Bind(builder.Configuration.GetSection(DetectionOptions.SectionName)).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddProblemDetails();
        // Wire format of the seeds and of the alert contract: snake_case everywhere.
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        // Request-by-request framework logs drown the services' own lines in the AppHost console.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        HeliosTelemetry.Add(builder);
        builder.Services.AddHostedService<ParentProcessWatchdog>();

        var health = builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        if (builder.Configuration.GetConnectionString("helios") is { Length: > 0 } database)
        {
            builder.Services.AddSingleton(_ =>
            {
                var source = new NpgsqlDataSourceBuilder(database) { Name = "helios" };

                // Statements run thousands of times (a window record per service per window): prepared once per
                // connection, PostgreSQL stops parsing and planning them each time. A value in the connection string wins.
                if (source.ConnectionStringBuilder.MaxAutoPrepare == 0)
                {
                    source.ConnectionStringBuilder.MaxAutoPrepare = 32;
                }

                return source.Build();
            });
            builder.Services.AddSingleton<SchemaInitializer>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<SchemaInitializer>());
            builder.Services.AddSingleton<ModelRegistry>();
            health.AddCheck<PostgresHealthCheck>("postgresql").AddCheck<SchemaInitializer>("schema");
        }

        if (builder.Configuration.GetConnectionString("kafka") is { Length: > 0 })
        {
            builder.Services.AddSingleton<KafkaClientFactory>();
            health.AddCheck<KafkaHealthCheck>("kafka");
        }

        return builder;
    }

    /// <summary>/health (ready: every check), /alive (liveness only), /metrics (Prometheus text).</summary>
    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        HeliosTelemetry.UseServerSpanTags(app);
        foreach (var prefix in (string[])["", "/api/v1"])
        {
            app.MapHealthChecks(prefix + "/health", new HealthCheckOptions { ResponseWriter = WriteHealth }).ExcludeFromDescription();
            app.MapHealthChecks(prefix + "/alive", new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag), ResponseWriter = WriteHealth }).ExcludeFromDescription();
            app.MapGet(prefix + "/metrics", (TelemetryProviders telemetry) =>
                Results.Bytes(telemetry.Prometheus.ScrapeUtf8(), PrometheusTextExporter.ContentType)).ExcludeFromDescription();
        }

        return app;
    }

    private static Task WriteHealth(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        }));
    }
}
