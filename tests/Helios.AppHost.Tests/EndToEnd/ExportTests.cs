using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Helios.Core.Events;
using Helios.Core.Synthetic;

namespace Helios.AppHost.Tests.EndToEnd;

/// <summary>
/// The stored per-minute aggregates, read back through the API: the training-data export at several bucket sizes
/// and in both formats, and the per-minute totals the dashboard draws, checked against the events published.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class ExportTests(StackFixture stack)
{
    private static readonly SyntheticService[] Services =
    [
        new("export-a", 0.10, 4.4, 0.5, 0.005, ["/a/1", "/a/2", "/a/3", "/a/4"]),
        new("export-b,\"quoted\"", 0.05, 5.0, 0.7, 0.010, ["/b/1", "/b/2", "/b/3", "/b/4"]),
    ];

    [Fact]
    public async Task Export_EachBucketSizeAndFormat_MatchesThePublishedEvents()
    {
        var (start, events) = await PublishAsync(seed: 77);
        var from = start;
        var to = start.AddMinutes(15);
        var range = $"from={Iso(from)}&to={Iso(to)}";

        // The export reads what storage committed: wait until every published event is in it.
        await PipelineTests.Eventually(async () =>
        {
            var json = await stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/export/training-data?format=json&bucket=5m&{range}");
            return json.GetProperty("rows").EnumerateArray().Where(r => Ours(r.GetProperty("service").GetString()!)).Sum(r => r.GetProperty("events").GetInt64()) == events.Count;
        }, $"{events.Count} events in the export");

        // 5-minute buckets, JSON: every (service, bucket) with its sums and the rates derived from them.
        var five = await stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/export/training-data?format=json&bucket=5m&{range}");
        Assert.Equal("5m", five.GetProperty("bucket").GetString());
        Assert.Equal(300, five.GetProperty("bucket_seconds").GetInt32());
        Assert.Equal(from, five.GetProperty("from").GetDateTimeOffset());
        var rows = five.GetProperty("rows").EnumerateArray().Where(r => Ours(r.GetProperty("service").GetString()!)).ToList();
        var expected = Expected(events, TimeSpan.FromMinutes(5));
        Assert.Equal(expected.Count, rows.Count);
        foreach (var row in rows)
        {
            var bucket = row.GetProperty("bucket_start").GetDateTimeOffset();
            var e = expected[(row.GetProperty("service").GetString()!, bucket)];
            Assert.Equal(bucket.AddMinutes(5), row.GetProperty("bucket_end").GetDateTimeOffset());
            Assert.Equal(e.Events, row.GetProperty("events").GetInt64());
            Assert.Equal(e.Errors, row.GetProperty("errors").GetInt64());
            Assert.Equal((double)e.Errors / e.Events, row.GetProperty("error_rate").GetDouble(), 12);
            Assert.Equal(e.Events / 300.0, row.GetProperty("requests_per_second").GetDouble(), 12);
            Assert.Equal(e.Latencies, row.GetProperty("latency_samples").GetInt64());
            Assert.Equal(e.LatencySum / e.Latencies, row.GetProperty("avg_latency_ms").GetDouble(), 6);
            Assert.Equal(e.LatencyMax, row.GetProperty("max_latency_ms").GetDouble(), 9);
        }

        // The storm window's errors show in its bucket only.
        Assert.Contains(rows, r => r.GetProperty("error_rate").GetDouble() > 0.5);

        // 1-minute buckets, CSV: the bucket is honoured (the seed ignored it), quoting per RFC 4180.
        using var csvResponse = await stack.Api.GetAsync($"/api/v1/export/training-data?format=csv&bucket=1m&{range}");
        Assert.Equal(HttpStatusCode.OK, csvResponse.StatusCode);
        Assert.Equal("text/csv", csvResponse.Content.Headers.ContentType?.MediaType);
        Assert.Equal("training-data-1m.csv", csvResponse.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        var lines = (await csvResponse.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("service,bucket_start,bucket_end,events,errors,error_rate,requests_per_second,avg_latency_ms,max_latency_ms,latency_samples", lines[0]);
        var perMinute = Expected(events, TimeSpan.FromMinutes(1));
        var csvRows = lines.Skip(1).Select(ParseCsv).Where(f => Ours(f[0])).ToList();
        Assert.Equal(perMinute.Count, csvRows.Count);
        foreach (var f in csvRows)
        {
            var e = perMinute[(f[0], DateTimeOffset.Parse(f[1], CultureInfo.InvariantCulture))];
            Assert.Equal(e.Events, long.Parse(f[3], CultureInfo.InvariantCulture));
            Assert.Equal(e.Errors, long.Parse(f[4], CultureInfo.InvariantCulture));
            Assert.Equal(e.Events / 60.0, double.Parse(f[6], CultureInfo.InvariantCulture), 12);
        }

        // 1-hour buckets: one row per service, from 08:00, holding all of that service's events.
        var hour = await stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/export/training-data?format=json&bucket=1h&{range}");
        var hourly = hour.GetProperty("rows").EnumerateArray().Where(r => Ours(r.GetProperty("service").GetString()!)).ToList();
        Assert.Equal(Services.Length, hourly.Count);
        foreach (var row in hourly)
        {
            var service = row.GetProperty("service").GetString();
            Assert.Equal(start, row.GetProperty("bucket_start").GetDateTimeOffset());
            Assert.Equal(events.Count(e => e.Service == service), row.GetProperty("events").GetInt64());
        }

        // One service only.
        var one = await stack.Api.GetFromJsonAsync<JsonElement>($"/api/v1/export/training-data?format=json&bucket=1h&{range}&service={Uri.EscapeDataString(Services[1].Name)}");
        Assert.Equal(Services[1].Name, Assert.Single(one.GetProperty("rows").EnumerateArray()).GetProperty("service").GetString());
    }

    [Fact]
    public async Task EventMinutes_OneService_EveryMinuteOfTheRangeWithItsCounts()
    {
        var (start, events) = await PublishAsync(seed: 78);
        var service = Services[0].Name;
        var ours = events.Where(e => e.Service == service).ToList();
        var to = start.AddMinutes(15);
        var url = $"/api/v1/events/minutes?service={service}&minutes=15&to={Iso(to)}";
        await PipelineTests.Eventually(async () => (await stack.Api.GetFromJsonAsync<JsonElement>(url)).GetProperty("events").GetInt64() == ours.Count,
            $"{ours.Count} events of {service} in the per-minute totals");

        var body = await stack.Api.GetFromJsonAsync<JsonElement>(url);
        Assert.Equal(start, body.GetProperty("from").GetDateTimeOffset());
        Assert.Equal(to, body.GetProperty("to").GetDateTimeOffset());
        Assert.Equal(1, body.GetProperty("services").GetInt64());
        var minutes = body.GetProperty("minutes").EnumerateArray().ToList();
        Assert.Equal(15, minutes.Count);
        var expected = Expected(ours, TimeSpan.FromMinutes(1));
        for (var i = 0; i < 15; i++)
        {
            var minute = start.AddMinutes(i);
            Assert.Equal(minute, minutes[i].GetProperty("minute").GetDateTimeOffset());
            var count = expected.TryGetValue((service, minute), out var e) ? e.Events : 0;
            Assert.Equal(count, minutes[i].GetProperty("events").GetInt64());
        }

        // The recent rate: minutes 9 to 13, the five before the range's last (minute 9 of traffic, the tick at minute 11).
        var recent = Enumerable.Range(9, 5).Sum(i => expected.TryGetValue((service, start.AddMinutes(i)), out var e) ? e.Events : 0);
        Assert.True(recent > 1);
        Assert.Equal(recent / 300.0, body.GetProperty("recent_events_per_s").GetDouble(), 12);
    }

    [Theory]
    [InlineData("/api/v1/export/training-data?bucket=7m", "bucket")]
    [InlineData("/api/v1/export/training-data?bucket=5s", "bucket")]
    [InlineData("/api/v1/export/training-data?format=xml", "format")]
    [InlineData("/api/v1/export/training-data?days=0", "days")]
    [InlineData("/api/v1/export/training-data?days=400", "days")]
    [InlineData("/api/v1/export/training-data?from=2026-03-02T09:00:00Z&to=2026-03-02T08:00:00Z", "from")]
    [InlineData("/api/v1/events/minutes?minutes=0", "minutes")]
    [InlineData("/api/v1/events/minutes?minutes=100000", "minutes")]
    [InlineData("/api/v1/events/minutes?to=0001-01-01T00:00:00Z", "to")]
    [InlineData("/api/v1/export/training-data?to=9999-12-31T23:59:59Z", "to")]
    [InlineData("/api/v1/export/training-data?from=0001-01-01T00:00:00Z", "from")]
    public async Task BadParameter_ProblemNamesTheField(string url, string field)
    {
        using var response = await stack.Api.GetAsync(url);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    private async Task<(DateTimeOffset Start, List<TelemetryEvent> Events)> PublishAsync(ulong seed)
    {
        var start = stack.ReserveStart();
        var published = TestTraffic.WithStorm(Services, Services[0].Name, start, windows: 2, stormWindow: 1, seed);
        await TestTraffic.PublishAsync(stack.Api, published);
        // What the detector stores is what the API's parser makes of the JSON: read each event back the same way.
        var events = published.Select(e =>
        {
            Assert.True(EventParser.TryParse(EventJson.Serialize(e), out var parsed, out var error), error?.Reason);
            return parsed!;
        }).ToList();
        return (start, events);
    }

    private static bool Ours(string service) => Services.Any(s => s.Name == service);

    private sealed record Sums(long Events, long Errors, long Latencies, double LatencySum, double LatencyMax);

    private static Dictionary<(string Service, DateTimeOffset Bucket), Sums> Expected(IEnumerable<TelemetryEvent> events, TimeSpan bucket) =>
        events.GroupBy(e => (e.Service, new DateTimeOffset(e.Timestamp.UtcTicks - (e.Timestamp.UtcTicks % bucket.Ticks), TimeSpan.Zero)))
            .ToDictionary(g => g.Key, g =>
            {
                var latencies = g.Where(e => e.LatencyMs > 0).Select(e => e.LatencyMs).ToList();
                return new Sums(g.Count(), g.Count(e => e.Level >= EventLevel.Error), latencies.Count, latencies.Sum(), latencies.Count == 0 ? 0 : latencies.Max());
            });

    private static string Iso(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O", CultureInfo.InvariantCulture));

    /// <summary>Splits one RFC 4180 line (quoted fields, doubled quotes).</summary>
    private static List<string> ParseCsv(string line)
    {
        var fields = new List<string>();
        var field = new System.Text.StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    field.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                fields.Add(field.ToString());
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }

        fields.Add(field.ToString());
        return fields;
    }
}
