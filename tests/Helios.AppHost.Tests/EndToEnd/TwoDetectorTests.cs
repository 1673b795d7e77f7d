using Helios.AppHost.Hosting;
using Helios.AppHost.Testing;
using Helios.Core.Synthetic;
using Helios.Core.Windows;
using Npgsql;

namespace Helios.AppHost.Tests.EndToEnd;

/// <summary>
/// Two detector processes in one consumer group share the partitions; one is killed in the middle of the
/// stream and the other takes its partitions over. Its own stack, so the group starts with both members. The
/// survivor runs two consume loops (Helios:Detection:Loops), so the group has three members and the survivor's
/// loops split the killed one's partitions between them.
/// </summary>
public sealed class TwoDetectorTests : IAsyncLifetime
{
    private DistributedApplication _app = null!;

    public async Task InitializeAsync()
    {
        _app = await DistributedApplicationTestingBuilder.CreateAsync(b =>
        {
            var detector = b.Resources.OfType<ProjectResource>().Single(r => r.Name == "detector");
            detector.Environment["Helios__Detection__Loops"] = "2";
            var helios = new ResourceBuilder<PostgresDatabaseResource>(b, b.Resources.OfType<PostgresDatabaseResource>().Single());
            var kafka = new ResourceBuilder<KafkaResource>(b, b.Resources.OfType<KafkaResource>().Single());
            b.AddProject("detector-b", detector.Project, port: 0)
                .WithReference(helios).WaitFor(helios)
                .WithReference(kafka).WaitFor(kafka);
            // Only what this test needs: the optimizer and the dashboard stay out.
            b.Resources.RemoveAll(r => r.Name is "optimizer" or "web");
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await _app.StartAsync(timeout.Token);
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task TwoDetectors_OneKilledMidStream_NoDuplicateAlertAndEveryWindowWhole()
    {
        // The first process is healthy only once both its loops consume (their lines precede the traffic's).
        Assert.Equal(2, _app.Log.Tail("detector", 400).Count(l => l.Contains("Detector loop ", StringComparison.Ordinal) && l.Contains(" consuming ", StringComparison.Ordinal)));
        using var api = _app.CreateHttpClient("api");
        var services = SyntheticTraffic.Services.ToList();
        var start = new DateTimeOffset(2026, 4, 6, 8, 0, 0, TimeSpan.Zero);
        var events = TestTraffic.WithStorm(services, "payment-service", start, windows: 4, stormWindow: 1, seed: 5);
        var ticks = events.Where(e => e.Message == "tick").ToList();
        var traffic = events.Except(ticks).ToList();
        var end = start + (TestTraffic.Window * 4);
        var expected = traffic.GroupBy(e => (e.Service, EventTimeWindows.WindowStart(e.Timestamp, TestTraffic.Window))).ToDictionary(g => g.Key, g => g.Count());
        await using var db = NpgsqlDataSource.Create(_app.GetConnectionString("helios")!);
        const string Recorded = "SELECT count(*) FROM scored_windows WHERE window_start >= @start AND window_start < @end";

        var cut = start + (TestTraffic.Window * 2.5);
        await TestTraffic.PublishAsync(api, traffic.Where(e => e.Timestamp < cut));
        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, Recorded, start, end) >= services.Count, "first windows recorded by the two detectors");

        var victim = (ProjectResource)_app["detector-b"];
        System.Diagnostics.Process.GetProcessById(victim.ProcessId!.Value).Kill();
        await TestTraffic.PublishAsync(api, traffic.Where(e => e.Timestamp >= cut));
        await TestTraffic.PublishAsync(api, ticks);

        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, Recorded, start, end) == expected.Count,
            "every window recorded", seconds: 150);
        var stored = await TestDatabase.WindowEventCountsAsync(db, start, end);
        Assert.Equal(expected.OrderBy(kv => kv.Key), stored.OrderBy(kv => kv.Key));

        // The two processes' storage members shared the events as well: after the kill and the rebalance every event
        // is stored once, and the per-minute sums (each member's ledger of them checked against the other's) count it once.
        const string EventsStored = "SELECT count(*) FROM events WHERE ts >= @start AND ts < @end";
        const string MinuteEvents = "SELECT coalesce(sum(events), 0)::bigint FROM event_minutes WHERE minute >= @start AND minute < @end";
        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, EventsStored, start, end) >= traffic.Count, "every event stored", seconds: 60);
        await PipelineTests.Eventually(async () => await TestDatabase.ScalarAsync(db, MinuteEvents, start, end) >= traffic.Count, "every event counted", seconds: 30);
        Assert.Equal(traffic.Count, await TestDatabase.ScalarAsync(db, EventsStored, start, end));
        Assert.Equal(traffic.Count, await TestDatabase.ScalarAsync(db, MinuteEvents, start, end));

        // The storm raised its alert, whichever detector owned the service. No window has two alerts: the
        // topic may carry a republished copy only under the same id, and every id on it is the stored one.
        var alertsById = new Dictionary<Guid, (string Service, DateTimeOffset Start)>();
        await using (var alerts = db.CreateCommand("SELECT id, service, window_start FROM alerts WHERE window_start >= @start AND window_start < @end"))
        {
            alerts.Parameters.AddWithValue("start", start);
            alerts.Parameters.AddWithValue("end", end);
            await using var reader = await alerts.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                alertsById.Add(reader.GetGuid(0), (reader.GetString(1), new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(2), DateTimeKind.Utc))));
            }
        }

        Assert.Contains(alertsById.Values, a => a == ("payment-service", start + TestTraffic.Window));
        Assert.Equal(alertsById.Count, alertsById.Values.Distinct().Count());
        var onTopic = PipelineTests.ReadAlertsTopic(_app.GetConnectionString("kafka")!, TimeSpan.FromSeconds(10), expectAtLeast: alertsById.Count)
            .Where(a => a.WindowStart >= start && a.WindowStart < end).ToList();
        Assert.Equal(alertsById.Keys.Order(), onTopic.Select(a => a.Id).Distinct().Order());
    }
}
