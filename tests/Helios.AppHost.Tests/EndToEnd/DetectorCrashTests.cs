using Helios.AppHost.Hosting;
using Helios.Core.Events;
using Helios.Core.Synthetic;
using Helios.Core.Windows;
using Npgsql;

namespace Helios.AppHost.Tests.EndToEnd;

/// <summary>kill -9 of the real detector process in the middle of a stream: every window recorded once and whole, every event stored once.</summary>
[Collection(StackCollection.Name)]
public sealed class DetectorCrashTests(StackFixture stack)
{
    private const int Windows = 6;

    [Fact]
    public async Task KilledDetector_MidStream_RecordsEveryWindowOnceWithAllItsEvents()
    {
        var services = SyntheticTraffic.Services.Where(s => s.Name is "api-gateway" or "user-service" or "search-service").ToList();
        var start = stack.ReserveStart();
        var end = start + (TestTraffic.Window * Windows);
        // Sent slightly out of order (up to 20 s behind, within the 30 s lateness), as real producers do: after the
        // restart the re-read part of the stream then holds stragglers of windows recorded before the kill.
        var jitter = new Random(77);
        var events = SyntheticTraffic.Generate(start, end, 20, 77, services)
            .Select(e => (Event: e.ToTelemetryEvent(), SentAt: e.Timestamp.AddSeconds((jitter.NextDouble() * 20) - 10)))
            .OrderBy(x => x.SentAt)
            .ToList();
        var expected = events
            .GroupBy(x => (x.Event.Service, EventTimeWindows.WindowStart(x.Event.Timestamp, TestTraffic.Window)))
            .ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(services.Count * Windows, expected.Count);

        // First part: up to the middle of window 3, so windows 0-2 close and window 3 is open when the process dies.
        var cut = start + (TestTraffic.Window * 3.5);
        await TestTraffic.PublishAsync(stack.Api, events.Where(x => x.SentAt < cut).Select(x => x.Event));
        await using var db = NpgsqlDataSource.Create(stack.App.GetConnectionString("helios")!);
        var names = services.Select(s => s.Name).ToArray();
        const string EventsStored = "SELECT count(*) FROM events WHERE service = ANY(@services) AND ts >= @start AND ts < @end";
        const string MinuteEvents = "SELECT coalesce(sum(events), 0)::bigint FROM event_minutes WHERE service = ANY(@services) AND minute >= @start AND minute < @end";
        const string MinuteErrors = "SELECT coalesce(sum(errors), 0)::bigint FROM event_minutes WHERE service = ANY(@services) AND minute >= @start AND minute < @end";
        const string Recorded = "SELECT count(*) FROM scored_windows WHERE service = ANY(@services) AND window_start >= @start AND window_start < @end";
        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, Recorded, start, end, names) >= services.Count * 2, "windows 0-1 recorded before the kill", seconds: 120);

        var detector = (ProjectResource)stack.App["detector"];
        var restarts = detector.Restarts;
        var killed = detector.ProcessId!.Value;
        System.Diagnostics.Process.GetProcessById(killed).Kill();

        // The rest of the stream arrives while the detector is down, then one later event per service closes every window.
        await TestTraffic.PublishAsync(stack.Api, events.Where(x => x.SentAt >= cut).Select(x => x.Event));
        var tick = end + TimeSpan.FromMinutes(1);
        await TestTraffic.PublishAsync(stack.Api, services.Select(s =>
            new TelemetryEvent(tick, s.Name, EventLevel.Info, "tick", TestTraffic.Metadata(90, s.Endpoints[0]), null, null) { LatencyMs = 90, Endpoint = s.Endpoints[0] }));

        await PipelineTests.Eventually(() => Task.FromResult(detector.Restarts > restarts && detector.State == ResourceState.Healthy), "detector restarted", seconds: 90);
        Assert.NotEqual(killed, detector.ProcessId);
        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, Recorded, start, end, names) == expected.Count, "every window recorded after the restart", seconds: 120);

        var stored = await TestDatabase.WindowEventCountsAsync(db, start, end, names);

        // One record per window (the key) and each with every event of its window: none lost, none counted twice.
        Assert.Equal(expected.OrderBy(kv => kv.Key), stored.OrderBy(kv => kv.Key));
        Assert.Equal(0L, await TestDatabase.ScalarAsync(db,
            "SELECT count(*) - count(DISTINCT (service, window_start)) FROM alerts WHERE service = ANY(@services) AND window_start >= @start AND window_start < @end", start, end, names));

        // The restarted detector re-read stragglers of windows recorded before the kill and skipped them:
        // proof that it resumed below its open window and knew which windows were done.
        Assert.True(await stack.MetricAsync("detector", "helios_detection_replayed_events_total") > 0, "no event of a recorded window was re-read after the restart");
        using (var client = stack.App.CreateHttpClient("detector"))
        {
            var metricsText = await client.GetStringAsync("/metrics");
            foreach (var name in (string[])["helios_detection_events_processed_total", "helios_detection_windows_scored_total", "helios_detection_consumer_lag", "helios_detection_open_windows", "helios_detection_latency_seconds", "helios_detection_window_size"])
            {
                Assert.Contains(name, metricsText);
            }
        }

        // The storage writer (its own consumer group, in the same killed process) re-wrote what it had not
        // committed: every event stored once, and the per-minute aggregates (written about a second after) count each once.
        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, EventsStored, start, end, names) >= events.Count, "every event stored", seconds: 60);
        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, MinuteEvents, start, end, names) >= events.Count, "every event counted", seconds: 30);
        Assert.Equal(events.Count, await TestDatabase.ScalarAsync(db, EventsStored, start, end, names));
        Assert.Equal(events.Count, await TestDatabase.ScalarAsync(db, MinuteEvents, start, end, names));
        Assert.Equal(events.Count(x => x.Event.IsError), await TestDatabase.ScalarAsync(db, MinuteErrors, start, end, names));
    }
}
