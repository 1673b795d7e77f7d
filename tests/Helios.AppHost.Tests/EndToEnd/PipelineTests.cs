using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Helios.Core.Alerts;
using Helios.Core.Events;
using Helios.Core.Synthetic;
using Npgsql;

namespace Helios.AppHost.Tests.EndToEnd;

[Collection(StackCollection.Name)]
public sealed class PipelineTests(StackFixture stack)
{
    private static readonly string[] Normal = ["api-gateway", "auth-service", "user-service", "search-service"];
    private const string Stormy = "payment-service";

    /// <summary>
    /// Normal traffic for four services and an error storm (most events ERROR, latency x5) for
    /// payment-service in its second window: exactly one alert, for payment-service, on the
    /// alerts topic, in PostgreSQL and through the API; the API request and the detector's
    /// processing share one trace.
    /// </summary>
    [Fact]
    public async Task ErrorStorm_InOneService_RaisesExactlyOneAlertEverywhere_InOneTrace()
    {
        var start = stack.ReserveStart();
        var services = SyntheticTraffic.Services.Where(s => Normal.Contains(s.Name) || s.Name == Stormy).ToList();
        var scoredBefore = await stack.MetricAsync("detector", "helios_detection_windows_scored_total");
        await TestTraffic.PublishAsync(stack.Api, TestTraffic.WithStorm(services, Stormy, start, windows: 3, stormWindow: 1, seed: 2026));

        // 5 services x 3 windows are scored once the watermark passes them.
        await Eventually(async () => await stack.MetricAsync("detector", "helios_detection_windows_scored_total") >= scoredBefore + 15, "15 windows scored");

        // Other tests share the stack: look only at this test's five services.
        string[] ours = [.. services.Select(s => s.Name)];
        var onTopic = ReadAlertsTopic(stack.App.GetConnectionString("kafka")!, TimeSpan.FromSeconds(20), expectAtLeast: 1).Where(a => ours.Contains(a.Service));
        var alert = Assert.Single(onTopic);
        Assert.Equal(Stormy, alert.Service);
        Assert.Equal(start.AddMinutes(5), alert.WindowStart);
        Assert.Equal("critical", alert.Severity);
        Assert.Equal(AlertIds.For(Stormy, start.AddMinutes(5)), alert.Id);

        // The model has a baseline for the service, so the corroborated surprise raised it, past its threshold,
        // and the alert says when its window closed (detected after it, within seconds).
        Assert.Equal(AlertRules.Evidence, alert.DetectedBy);
        Assert.True(alert.Evidence >= alert.EvidenceThreshold, $"evidence {alert.Evidence} below {alert.EvidenceThreshold}");
        Assert.NotNull(alert.ClosedAt);
        Assert.InRange(alert.DetectedAt - alert.ClosedAt!.Value, TimeSpan.Zero, TimeSpan.FromSeconds(5));
        Assert.Contains("error_surprise", alert.Explanation);

        // Its trip to the broker is measured, and the detector's latency histograms have buckets at the scale of milliseconds.
        Assert.True(await stack.MetricAsync("detector", "helios_detection_alert_publish_seconds_count") >= 1, "no alert publication in helios_detection_alert_publish_seconds");
        using (var client = stack.App.CreateHttpClient("detector"))
        {
            var metricsText = await client.GetStringAsync("/metrics");
            Assert.Matches(@"(?m)^helios_detection_latency_seconds_bucket\{(.*,)?le=""0.025""\} \d+$", metricsText);
            Assert.Matches(@"(?m)^helios_detection_alert_publish_seconds_bucket\{(.*,)?le=""0.005""\} \d+$", metricsText);
        }

        await using (var db = NpgsqlDataSource.Create(stack.App.GetConnectionString("helios")!))
        await using (var cmd = db.CreateCommand("SELECT service, count(*) FROM alerts WHERE service = ANY(@ours) GROUP BY service"))
        {
            cmd.Parameters.AddWithValue("ours", ours);
            await using var reader = await cmd.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(Stormy, reader.GetString(0));
            Assert.Equal(1, reader.GetInt64(1));
            Assert.False(await reader.ReadAsync(), "alerts for more than one service in PostgreSQL");
        }

        foreach (var name in ours.Where(n => n != Stormy))
        {
            var none = await stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/alerts?service={name}");
            Assert.Equal(0, none.GetProperty("total").GetInt64());
        }

        var page = await stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/alerts?service={Stormy}");
        Assert.Equal(1, page.GetProperty("total").GetInt64());
        var listed = page.GetProperty("items")[0];
        Assert.Equal(Stormy, listed.GetProperty("service").GetString());
        Assert.Equal(alert.Id, listed.GetProperty("id").GetGuid());
        Assert.Equal("evidence", listed.GetProperty("detected_by").GetString());
        Assert.Equal(alert.ClosedAt, listed.GetProperty("closed_at").GetDateTimeOffset());
        Assert.NotEmpty(listed.GetProperty("top_features").EnumerateArray());

        // One trace holds the API request, the Kafka publish and the detector's processing.
        var traces = stack.App.Traces!;
        await Eventually(() => Task.FromResult(traces.Spans.Any(s => s.ServiceName == "detector" && s.Name == "window score" && s.Attributes.GetValueOrDefault("helios.alert.id") == alert.Id.ToString())), "alert span exported");
        var scored = traces.Spans.First(s => s.ServiceName == "detector" && s.Attributes.GetValueOrDefault("helios.alert.id") == alert.Id.ToString());
        var trace = traces.Spans.Where(s => s.TraceId == scored.TraceId).ToList();
        Assert.Contains(trace, s => s.ServiceName == "api" && s.Name == "POST /api/v1/events/batch");
        Assert.Contains(trace, s => s.ServiceName == "api" && s.Name == "events publish");
        Assert.Contains(trace, s => s.ServiceName == "detector" && s.Name == "events process");
    }

    /// <summary>
    /// An error storm over two windows of one service: the first raises a critical alert, and the second, within its
    /// cooldown (ALERT_COOLDOWN_MINUTES, 10; windows of 5) and not more severe, is suppressed on it: one alert in
    /// PostgreSQL, the second window's record names it, and its suppressed count, recounted from the records, is 1.
    /// A service of the bootstrap model's that no other test of this stack storms (their checks count a service's alerts).
    /// </summary>
    [Fact]
    public async Task ErrorStorm_OverTwoWindows_SecondWindowSuppressedOnTheFirstAlert()
    {
        const string Storming = "notification-service";
        var start = stack.ReserveStart();
        var services = SyntheticTraffic.Services.Where(s => s.Name == Storming).ToList();
        await TestTraffic.PublishAsync(stack.Api, TestTraffic.WithStorm(services, Storming, start, windows: 4, stormWindow: 1, seed: 2026, stormWindows: 2));

        await using var db = NpgsqlDataSource.Create(stack.App.GetConnectionString("helios")!);
        var (from, to) = (start, start.AddMinutes(20));
        string[] ours = [Storming];
        await Eventually(async () => await TestDatabase.ScalarAsync(db, "SELECT coalesce(sum(suppressed_count), -1) FROM alerts WHERE service = ANY(@services) AND window_start >= @start AND window_start < @end", from, to, ours) == 1,
            "the alert's suppressed count at 1", seconds: 60);
        Assert.Equal(1, await TestDatabase.ScalarAsync(db, "SELECT count(*) FROM alerts WHERE service = ANY(@services) AND window_start >= @start AND window_start < @end", from, to, ours));

        await using var read = TestDatabase.Command(db,
            """
            SELECT a.id, a.window_start, a.severity, w.is_anomaly, w.alert_id
            FROM alerts a JOIN scored_windows w ON w.service = a.service AND w.window_start = a.window_start + interval '5 minutes'
            WHERE a.service = ANY(@services) AND a.window_start >= @start AND a.window_start < @end
            """, from, to, ours);
        await using var reader = await read.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "no record of the window after the alert's");
        var id = reader.GetGuid(0);
        Assert.Equal(AlertIds.For(Storming, start.AddMinutes(5)), id);
        Assert.Equal(start.AddMinutes(5), new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc)));
        Assert.Equal("critical", reader.GetString(2));
        Assert.True(reader.GetBoolean(3), "the second storm window is not anomalous");
        Assert.Equal(id, reader.GetGuid(4));
    }

    /// <summary>
    /// A service the model has no baseline for cannot be surprising against one: its error storm is
    /// raised by the forest's decision instead, and the alert says so.
    /// </summary>
    [Fact]
    public async Task ErrorStorm_InAServiceTheModelNeverSaw_IsRaisedByTheForest()
    {
        var start = stack.ReserveStart();
        var unknown = SyntheticTraffic.Services.Single(s => s.Name == Stormy) with { Name = "ledger-service" };
        await TestTraffic.PublishAsync(stack.Api, TestTraffic.WithStorm([unknown], unknown.Name, start, windows: 3, stormWindow: 1, seed: 7));

        JsonElement? storm = null;
        await Eventually(async () =>
        {
            var page = await stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/alerts?service={unknown.Name}&limit=500");
            storm = page.GetProperty("items").EnumerateArray().Cast<JsonElement?>()
                .FirstOrDefault(a => a!.Value.GetProperty("window_start").GetDateTimeOffset() == start.AddMinutes(5));
            return storm is not null;
        }, "alert for the unknown service's storm");
        Assert.Equal("forest", storm!.Value.GetProperty("detected_by").GetString());
        Assert.True(!storm.Value.TryGetProperty("evidence", out var evidence) || evidence.ValueKind == JsonValueKind.Null, "a forest alert has no evidence");
        Assert.True(storm.Value.GetProperty("score").GetDouble() < storm.Value.GetProperty("threshold").GetDouble());

        // The forest decided the window; the batch's evidence is evaluated before or after its alerts are out (after,
        // when no window of the batch is the evidence's to decide), and either way the span carries what the record holds.
        var id = storm.Value.GetProperty("id").GetString();
        var traces = stack.App.Traces!;
        await Eventually(() => Task.FromResult(traces.Spans.Any(s => s.ServiceName == "detector" && s.Name == "window score" && s.Attributes.GetValueOrDefault("helios.alert.id") == id)), "forest alert span exported");
        var span = traces.Spans.First(s => s.ServiceName == "detector" && s.Name == "window score" && s.Attributes.GetValueOrDefault("helios.alert.id") == id);
        await using var db = NpgsqlDataSource.Create(stack.App.GetConnectionString("helios")!);
        await using var cmd = db.CreateCommand("SELECT evidence FROM scored_windows WHERE service = @service AND window_start = @start");
        cmd.Parameters.AddWithValue("service", unknown.Name);
        cmd.Parameters.AddWithValue("start", start.AddMinutes(5));
        double? recorded = null;
        await Eventually(async () => (recorded = await cmd.ExecuteScalarAsync() as double?) is not null, "the storm window's record with its evidence");
        Assert.True(span.Attributes.TryGetValue("helios.evidence", out var tagged), "the forest alert's span has no evidence");
        Assert.Equal(recorded!.Value, double.Parse(tagged, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task PublishBatch_WithOneBadEvent_AcceptsTheRestAndNamesTheField()
    {
        var body = """
            {"events":[
              {"timestamp":"2026-03-01T00:00:00Z","service":"batch-test","level":"INFO","message":"ok"},
              {"timestamp":"2026-03-01T00:00:01Z","service":"batch-test","level":"LOUD","message":"bad"}
            ]}
            """;
        using var response = await stack.Api.PostAsync("/api/v1/events/batch", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var json = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, json.GetProperty("accepted").GetInt32());
        Assert.Equal(1, json.GetProperty("rejected").GetInt32());
        Assert.Equal("events[1].level", json.GetProperty("errors")[0].GetProperty("field").GetString());
    }

    [Fact]
    public async Task PublishEvent_Invalid_Returns400ProblemNamingTheField()
    {
        using var response = await stack.Api.PostAsync("/api/v1/events", new StringContent("""{"timestamp":"2026-03-01T00:00:00Z","level":"INFO"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("service", out _));
    }

    /// <summary>
    /// The AppHost runs the detector on tcmalloc (see its Program): the library must be installed (test.sh does it) and
    /// mapped into the running detector, so the end-to-end tests exercise the allocator the benchmark measured.
    /// </summary>
    [Fact]
    public void Detector_RunsOnTcmalloc()
    {
        var library = Helios.AppHost.Hosting.NativeAllocator.Tcmalloc();
        Assert.NotNull(library);
        var detector = (Helios.AppHost.Hosting.ProjectResource)stack.App["detector"];
        var maps = File.ReadAllText($"/proc/{detector.ProcessId}/maps");
        Assert.Contains(Path.GetFileName(library), maps, StringComparison.Ordinal);
        Assert.DoesNotContain("libtcmalloc", File.ReadAllText("/proc/self/maps"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelInfo_AfterFirstStart_ShowsTheBootstrapModelWithItsOwnThreshold()
    {
        await Eventually(async () => (await stack.Api.GetAsync("/api/v1/model/info")).IsSuccessStatusCode, "bootstrap model registered");
        var info = await stack.Api.GetFromJsonAsync<JsonElement>("/api/v1/model/info");
        Assert.Equal("events", info.GetProperty("kind").GetString());
        Assert.Equal("synthetic-normal", info.GetProperty("training").GetProperty("source").GetString());
        Assert.Equal(Helios.Core.Features.EventWindowFeatures.Schema.Count, info.GetProperty("feature_schema").GetProperty("features").GetArrayLength());
        Assert.InRange(info.GetProperty("threshold").GetDouble(), -1, 0);
    }

    [Fact]
    public async Task OpenApiDocument_ListsTheEndpoints()
    {
        var doc = await stack.Api.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = doc.GetProperty("paths");
        foreach (var path in (string[])["/api/v1/events", "/api/v1/events/batch", "/api/v1/alerts", "/api/v1/alerts/{id}", "/api/v1/model/info"])
        {
            Assert.True(paths.TryGetProperty(path, out _), $"{path} missing from the OpenAPI document");
        }
    }

    internal static List<AnomalyAlert> ReadAlertsTopic(string bootstrap, TimeSpan wait, int expectAtLeast)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "e2e-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
        }).Build();
        consumer.Subscribe("anomaly-alerts");
        var alerts = new List<AnomalyAlert>();
        var deadline = DateTime.UtcNow + wait;
        var quietUntil = DateTime.MaxValue;
        while (DateTime.UtcNow < deadline && DateTime.UtcNow < quietUntil)
        {
            var message = consumer.Consume(TimeSpan.FromMilliseconds(250));
            if (message?.Message is { } m)
            {
                alerts.Add(JsonSerializer.Deserialize<AnomalyAlert>(m.Value)!);
            }

            // After the expected alerts arrive, keep reading a few seconds to catch any extra one.
            if (alerts.Count >= expectAtLeast && quietUntil == DateTime.MaxValue)
            {
                quietUntil = DateTime.UtcNow.AddSeconds(5);
            }
        }

        consumer.Close();
        return alerts;
    }

    internal static async Task Eventually(Func<Task<bool>> condition, string what, int seconds = 90)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(500);
        }

        Assert.Fail($"Timed out after {seconds} s waiting for: {what}");
    }
}
