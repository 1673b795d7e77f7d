using System.Net.Http.Json;
using System.Text.Json.Serialization;

namespace Helios.Web.Services;

public sealed record AlertSummary(
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("open")] long Open,
    [property: JsonPropertyName("critical")] long Critical,
    [property: JsonPropertyName("api_reachable")] bool ApiReachable);

/// <summary>Typed client for the alert API; the dashboard reads only through the API, never the database.</summary>
public sealed class AlertsClient(HttpClient http, ILogger<AlertsClient> logger)
{
    private sealed record Page([property: JsonPropertyName("total")] long Total);

    public async Task<AlertSummary> GetSummaryAsync(CancellationToken ct)
    {
        try
        {
            var all = GetTotalAsync("/api/v1/alerts?limit=1", ct);
            var open = GetTotalAsync("/api/v1/alerts?limit=1&status=open", ct);
            var critical = GetTotalAsync("/api/v1/alerts?limit=1&severity=critical", ct);
            return new AlertSummary(await all, await open, await critical, true);
        }
        catch (HttpRequestException ex)
        {
            logger.LogWarning("API unreachable: {Message}", ex.Message);
            return new AlertSummary(0, 0, 0, false);
        }
    }

    private async Task<long> GetTotalAsync(string path, CancellationToken ct) =>
        (await http.GetFromJsonAsync<Page>(path, ct))?.Total ?? 0;
}

public static class ApiClientRegistration
{
    public static IHostApplicationBuilder AddApiClients(this IHostApplicationBuilder builder)
    {
        // Aspire's service reference convention: services__api__http__0.
        var api = builder.Configuration["services:api:http:0"] ?? "http://127.0.0.1:5080";
        builder.Services.AddHttpClient<AlertsClient>(c =>
        {
            c.BaseAddress = new Uri(api);
            c.Timeout = TimeSpan.FromSeconds(5);
        });
        return builder;
    }

    /// <summary>GET /live/alerts: the summary the home page polls to stay current without reloading.</summary>
    public static IEndpointRouteBuilder MapLiveEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/live/alerts", async (AlertsClient client, CancellationToken ct) => TypedResults.Ok(await client.GetSummaryAsync(ct)));
        return app;
    }
}
