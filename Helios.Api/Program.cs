using Helios.Api.Features.Alerts;
using Helios.Api.Features.Events;
using Helios.Api.Features.Models;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.Services.AddHealthChecks().AddCheck<Helios.ServiceDefaults.Health.ActiveModelHealthCheck>("model");
builder.Services.AddOpenApi();
builder.AddEvents();
builder.AddAlerts();
builder.AddModels();

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapDefaultEndpoints();
app.MapOpenApi("/openapi/{documentName}.json");
app.MapEventsEndpoints();
app.MapAlertsEndpoints();
app.MapModelsEndpoints();
app.Run();

public partial class Program;
