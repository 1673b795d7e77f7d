using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Helios.Core.Events;
using Helios.Core.Synthetic;
using Npgsql;

namespace Helios.AppHost.Tests.EndToEnd;

/// <summary>An event for a window that has closed is counted, stored and reported, never silently dropped.</summary>
[Collection(StackCollection.Name)]
public sealed class LateEventTests(StackFixture stack)
{
    [Fact]
    public async Task EventAfterItsWindowClosed_IsCountedOnTheWindowAndStored()
    {
        var services = SyntheticTraffic.Services.Where(s => s.Name == "recommendation-engine").ToList();
        var start = stack.ReserveStart();
        await TestTraffic.PublishAsync(stack.Api, TestTraffic.WithStorm(services, "none", start, windows: 2, stormWindow: 5, seed: 3));
        await using var db = NpgsqlDataSource.Create(stack.App.GetConnectionString("helios")!);
        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, "SELECT count(*) FROM scored_windows WHERE service = 'recommendation-engine' AND window_start = @start", start, start) == 1, "first window recorded");
        var lateBefore = await stack.MetricAsync("detector", "helios_detection_late_events_total");

        var late = new TelemetryEvent(start.AddMinutes(1), "recommendation-engine", EventLevel.Error, "late", TestTraffic.Metadata(120, "/api/v1/recommendation"), null, null)
        {
            LatencyMs = 120,
            Endpoint = "/api/v1/recommendation",
        };
        await TestTraffic.PublishAsync(stack.Api, [late]);

        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, "SELECT late_events::bigint FROM scored_windows WHERE service = 'recommendation-engine' AND window_start = @start", start, start) == 1, "late event counted on its window");
        // /metrics caches a collection for 100 ms: the first read after the database shows the count may predate it.
        await PipelineTests.Eventually(async () => await stack.MetricAsync("detector", "helios_detection_late_events_total") == lateBefore + 1, "late event in the metric");
        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, "SELECT count(*) FROM events WHERE service = 'recommendation-engine' AND ts = @start + interval '1 minute' AND message = 'late'", start, start) == 1, "late event stored");

        // Reported through the API: the window that missed the event, with its count.
        var from = Uri.EscapeDataString(start.ToString("O"));
        var to = Uri.EscapeDataString(start.AddMinutes(10).ToString("O"));
        var page = await stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/windows?service=recommendation-engine&from={from}&to={to}&late_only=true");
        var window = Assert.Single(page.GetProperty("items").EnumerateArray());
        Assert.Equal(start, window.GetProperty("window_start").GetDateTimeOffset());
        Assert.Equal(1, window.GetProperty("late_events").GetInt32());
        Assert.True(window.GetProperty("scored").GetBoolean());
        Assert.Equal(1, page.GetProperty("late_events").GetInt64());

        using var bad = await stack.Api.GetAsync("/api/v1/windows?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("limit", await bad.Content.ReadAsStringAsync());

        // A value of the wrong type is a problem naming the parameter and the value, not a bare 400.
        using var wrongType = await stack.Api.GetAsync("/api/v1/windows?late_only=maybe");
        Assert.Equal(HttpStatusCode.BadRequest, wrongType.StatusCode);
        Assert.Equal("application/problem+json", wrongType.Content.Headers.ContentType?.MediaType);
        var problem = await wrongType.Content.ReadAsStringAsync();
        Assert.Contains("lateOnly", problem);
        Assert.Contains("maybe", problem);
    }
}
