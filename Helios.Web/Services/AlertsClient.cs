using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Serialization;

namespace Helios.Web.Services;

public sealed record AlertSummary(
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("open")] long Open,
    [property: JsonPropertyName("critical")] long Critical,
    [property: JsonPropertyName("api_reachable")] bool ApiReachable);

/// <summary>One bar of the overview's chart: a minute of event time and its events over every service.</summary>
public sealed record MinuteBar(
    [property: JsonPropertyName("minute")] DateTimeOffset Minute,
    [property: JsonPropertyName("events")] long Events,
    [property: JsonPropertyName("errors")] long Errors);

/// <summary>The stored per-minute aggregates of the latest hour of event time, as GET /api/v1/events/minutes gives them.</summary>
public sealed record TrafficSummary(
    [property: JsonPropertyName("to")] DateTimeOffset? To,
    [property: JsonPropertyName("events")] long Events,
    [property: JsonPropertyName("services")] long Services,
    [property: JsonPropertyName("recent_events_per_s")] double RecentEventsPerSecond,
    [property: JsonPropertyName("minutes")] IReadOnlyList<MinuteBar> Minutes)
{
    public static readonly TrafficSummary None = new(null, 0, 0, 0, []);

    /// <summary>The range as the page states it: the hour of event time that ends with the newest stored minute.</summary>
    public string RangeText => To is { } to
        ? $"{to.AddMinutes(-Minutes.Count).UtcDateTime.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} to {to.UtcDateTime.ToString("HH:mm", CultureInfo.InvariantCulture)} UTC"
        : "no events stored yet";

    public string RateText => RecentEventsPerSecond.ToString("0.#", CultureInfo.InvariantCulture);
}

/// <summary>What the overview page shows and /live/overview returns, flat so the page script can fill fields by name.</summary>
public sealed record Overview(
    [property: JsonPropertyName("total")] long Total,
    [property: JsonPropertyName("open")] long Open,
    [property: JsonPropertyName("critical")] long Critical,
    [property: JsonPropertyName("events_last_hour")] long EventsLastHour,
    [property: JsonPropertyName("events_per_s")] string EventsPerSecond,
    [property: JsonPropertyName("services")] long Services,
    [property: JsonPropertyName("range")] string Range,
    [property: JsonPropertyName("minutes")] IReadOnlyList<MinuteBar> Minutes,
    [property: JsonPropertyName("api_reachable")] bool ApiReachable);

/// <summary>Typed client for the API; the dashboard reads only through the API, never the database.</summary>
public sealed class AlertsClient(HttpClient http, ILogger<AlertsClient> logger)
{
    public const int ChartMinutes = 60;

    private sealed record Page([property: JsonPropertyName("total")] long Total);

    public async Task<Overview> GetOverviewAsync(CancellationToken ct)
    {
        // Alerts and traffic fail apart: a slow or failing per-minute query does not blank the alert counts.
        var traffic = GetTrafficAsync(ct);
        try
        {
            var all = GetTotalAsync("/api/v1/alerts?limit=1", ct);
            var open = GetTotalAsync("/api/v1/alerts?limit=1&status=open", ct);
            var critical = GetTotalAsync("/api/v1/alerts?limit=1&severity=critical", ct);
            var t = await traffic;
            return new Overview(await all, await open, await critical, t.Events, t.RateText, t.Services, t.RangeText, t.Minutes, true);
        }
        catch (Exception ex) when (Unreachable(ex, ct))
        {
            logger.LogWarning("API unreachable: {Message}", ex.Message);
            var none = TrafficSummary.None;
            return new Overview(0, 0, 0, 0, none.RateText, 0, none.RangeText, [], false);
        }
    }

    private async Task<TrafficSummary> GetTrafficAsync(CancellationToken ct)
    {
        try
        {
            return await http.GetFromJsonAsync<TrafficSummary>($"/api/v1/events/minutes?minutes={ChartMinutes}", ct) ?? TrafficSummary.None;
        }
        catch (Exception ex) when (Unreachable(ex, ct))
        {
            logger.LogWarning("Per-minute totals unavailable: {Message}", ex.Message);
            return TrafficSummary.None;
        }
    }

    /// <summary>A failed or timed-out call (the client's 5 s timeout surfaces as a cancellation the caller did not ask for).</summary>
    private static bool Unreachable(Exception ex, CancellationToken ct) =>
        ex is HttpRequestException || (ex is TaskCanceledException && !ct.IsCancellationRequested);

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

    /// <summary>GET /live/overview: what the home page polls to stay current without reloading.</summary>
    public static IEndpointRouteBuilder MapLiveEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/live/overview", async (AlertsClient client, CancellationToken ct) => TypedResults.Ok(await client.GetOverviewAsync(ct)));
        return app;
    }
}
