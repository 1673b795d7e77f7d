using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Helios.Core.Events;
using Helios.Core.Synthetic;

namespace Helios.AppHost.Tests.EndToEnd;

/// <summary>Seeded synthetic traffic with an error storm, published through the real API.</summary>
public static class TestTraffic
{
    public const int BatchLimit = 1000;
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Normal traffic for <paramref name="windows"/> windows from <paramref name="start"/>; in window
    /// <paramref name="stormWindow"/> (and the <paramref name="stormWindows"/> - 1 after it) the <paramref name="stormy"/>
    /// service has an error storm (85 % ERROR, latency x5). One later event per service moves every partition's watermark past them all.
    /// </summary>
    public static List<TelemetryEvent> WithStorm(IReadOnlyList<SyntheticService> services, string stormy, DateTimeOffset start, int windows, int stormWindow, ulong seed, int stormWindows = 1)
    {
        var rng = new Random((int)seed);
        var stormStart = start + (Window * stormWindow);
        var events = new List<TelemetryEvent>();
        foreach (var e in SyntheticTraffic.Generate(start, start + (Window * windows), SyntheticTraffic.DefaultBaseRps, seed, services))
        {
            var evt = e.ToTelemetryEvent();
            if (e.Service.Name == stormy && e.Timestamp >= stormStart && e.Timestamp < stormStart + (Window * stormWindows))
            {
                evt = evt with
                {
                    Level = rng.NextDouble() < 0.85 ? EventLevel.Error : EventLevel.Info,
                    Message = "upstream timeout",
                    LatencyMs = e.LatencyMs * 5,
                    Metadata = Metadata(e.LatencyMs * 5, e.Endpoint),
                };
            }

            events.Add(evt);
        }

        var tick = start + (Window * windows) + TimeSpan.FromMinutes(1);
        events.AddRange(services.Select(s => new TelemetryEvent(tick, s.Name, EventLevel.Info, "tick", Metadata(90, s.Endpoints[0]), null, null) { LatencyMs = 90, Endpoint = s.Endpoints[0] }));
        return events;
    }

    public static async Task PublishAsync(HttpClient api, IEnumerable<TelemetryEvent> events)
    {
        foreach (var chunk in events.Chunk(BatchLimit))
        {
            var body = "{\"events\":[" + string.Join(',', chunk.Select(e => Encoding.UTF8.GetString(EventJson.Serialize(e)))) + "]}";
            using var response = await api.PostAsync("/api/v1/events/batch", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var counts = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(chunk.Length, counts.GetProperty("accepted").GetInt32());
        }
    }

    public static JsonElement Metadata(double latency, string endpoint) =>
        JsonSerializer.SerializeToElement(new { latency_ms = Math.Round(latency, 3), endpoint, status_code = 500 });
}
