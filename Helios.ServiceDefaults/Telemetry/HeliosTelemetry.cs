using System.Diagnostics;
using Helios.ServiceDefaults.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Helios.ServiceDefaults.Telemetry;

/// <summary>
/// OpenTelemetry without OpenTelemetry.Extensions.Hosting (absent from the mirror): providers are
/// built here, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, scraped as Prometheus
/// text on /metrics, and disposed at shutdown so the last spans are flushed.
/// </summary>
public static class HeliosTelemetry
{
    public const string SourceName = "Helios";
    public static readonly ActivitySource Source = new(SourceName);

    internal static void Add(IHostApplicationBuilder builder)
    {
        var serviceName = builder.Configuration["OTEL_SERVICE_NAME"] ?? builder.Environment.ApplicationName;
        var otlp = !string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var resource = ResourceBuilder.CreateDefault().AddService(serviceName, serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId);

        var tracing = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource(SourceName, SourceName + ".*", KafkaTracing.SourceName, "Microsoft.AspNetCore", "System.Net.Http", "Npgsql")
            .SetSampler(new ParentBasedSampler(new AlwaysOnSampler()));
        var prometheus = new PrometheusTextExporter();
        var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(SourceName, SourceName + ".*", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Net.Http", "Npgsql", "System.Runtime")
            .AddReader(prometheus.Reader);
        if (otlp)
        {
            tracing.AddOtlpExporter();
            metrics.AddOtlpExporter();
        }

        var telemetry = new TelemetryProviders(tracing.Build()!, metrics.Build()!, prometheus);
        builder.Services.AddSingleton(telemetry);
        builder.Services.AddHostedService(sp => sp.GetRequiredService<TelemetryProviders>());
        builder.Logging.AddOpenTelemetry(o =>
        {
            o.SetResourceBuilder(resource);
            o.IncludeFormattedMessage = true;
            o.IncludeScopes = true;
            if (otlp)
            {
                o.AddOtlpExporter();
            }
        });
    }

    /// <summary>
    /// ASP.NET Core's own server span has a generic name and no http tags: name it "METHOD route"
    /// and add the semantic-convention tags from the request.
    /// </summary>
    internal static void UseServerSpanTags(WebApplication app) => app.Use(async (context, next) =>
    {
        try
        {
            await next(context);
        }
        finally
        {
            if (context.Features.Get<IHttpActivityFeature>()?.Activity is { } activity)
            {
                var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
                activity.DisplayName = route is null ? context.Request.Method : $"{context.Request.Method} {route}";
                activity.SetTag("http.request.method", context.Request.Method);
                activity.SetTag("url.path", context.Request.Path.Value);
                activity.SetTag("url.scheme", context.Request.Scheme);
                activity.SetTag("http.response.status_code", context.Response.StatusCode);
                if (route is not null)
                {
                    activity.SetTag("http.route", route);
                }

                if (context.Response.StatusCode >= 500)
                {
                    activity.SetStatus(ActivityStatusCode.Error);
                }
            }
        }
    });
}

public sealed class TelemetryProviders(TracerProvider tracer, MeterProvider meter, PrometheusTextExporter prometheus) : IHostedService, IDisposable
{
    public PrometheusTextExporter Prometheus => prometheus;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        tracer.ForceFlush(2000);
        meter.ForceFlush(2000);
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        tracer.Dispose();
        meter.Dispose();
    }
}
