using Helios.Api.Features.Alerts;
using Helios.Api.Features.Events;
using Helios.Api.Features.Export;
using Helios.Api.Features.Minutes;
using Helios.Api.Features.Models;
using Helios.Api.Features.Windows;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddHealthChecks().AddCheck<Helios.ServiceDefaults.Health.ActiveModelHealthCheck>("model");
builder.Services.AddOpenApi();
builder.AddEvents();
builder.AddAlerts();
builder.AddModels();

// A query or route value of the wrong type (limit=abc, late_only=maybe) throws instead of ending in a bare 400,
// so the problem below can say which parameter and value.
builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = c =>
{
    // Kestrel's body limit surfaces as BadHttpRequestException: answer 413 with the limit, not 500.
    if (c.Exception is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
    {
        c.ProblemDetails.Status = c.HttpContext.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
        c.ProblemDetails.Title = "Request body too large";
        c.ProblemDetails.Detail = $"Event requests are limited to {PublishEvents.MaxBodyBytes / (1024 * 1024)} MiB; send at most {PublishEvents.MaxBatch} events per batch.";
    }
    else if (c.Exception is BadHttpRequestException bad)
    {
        // e.g. Failed to bind parameter "bool lateOnly" from "maybe".
        c.ProblemDetails.Status = c.HttpContext.Response.StatusCode = bad.StatusCode;
        c.ProblemDetails.Title = "The request is invalid.";
        c.ProblemDetails.Detail = bad.Message;
    }
});

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapDefaultEndpoints();
app.MapOpenApi("/openapi/{documentName}.json");
app.MapEventsEndpoints();
app.MapAlertsEndpoints();
app.MapWindowsEndpoints();
app.MapModelsEndpoints();
app.MapEventMinutesEndpoints();
app.MapExportEndpoints();
app.Run();

public partial class Program;
