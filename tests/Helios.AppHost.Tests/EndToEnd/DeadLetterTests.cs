using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;

namespace Helios.AppHost.Tests.EndToEnd;

[Collection(StackCollection.Name)]
public sealed class DeadLetterTests(StackFixture stack)
{
    /// <summary>Malformed messages produced straight to Kafka reach events.dlq with the reason and their origin, and do not stop the detector.</summary>
    [Fact]
    public async Task MalformedEventsOnKafka_GoToDeadLetterTopic_WithReasonPartitionAndOffset()
    {
        var bootstrap = stack.App.GetConnectionString("kafka")!;
        var marker = "dlq-" + Guid.NewGuid().ToString("N")[..8];
        var bad = new (byte[] Body, string Field)[]
        {
            (Encoding.UTF8.GetBytes("{not json " + marker), "$"),
            (Encoding.UTF8.GetBytes($$"""{"timestamp":"2026-05-01T00:00:00Z","level":"INFO","message":"{{marker}}"}"""), "service"),
            (Encoding.UTF8.GetBytes($$"""{"timestamp":"2026-05-01T00:00:00Z","service":"{{marker}}","level":"SHOUT"}"""), "level"),
            (Encoding.UTF8.GetBytes($$"""{"timestamp":12,"service":"{{marker}}","level":"INFO"}"""), "timestamp"),
            // A message that is not valid UTF-8: dead-lettered, and it must not stop the storage writer either.
            ([.. Encoding.UTF8.GetBytes($$"""{"timestamp":"2026-05-01T00:00:00Z","service":"{{marker}}","level":"INFO","message":"x"""), 0xC3, 0x28, .. "\"}"u8], "$"),
        };
        var expected = new Dictionary<(string Partition, string Offset), string>();
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap }).Build())
        {
            foreach (var (body, field) in bad)
            {
                var result = await producer.ProduceAsync("events", new Message<string, byte[]> { Key = marker, Value = body });
                expected[(result.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), result.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture))] = field;
            }
        }

        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "dlq-test-" + marker,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = 6000,
        }).Build();
        consumer.Subscribe("events.dlq");
        var found = new Dictionary<(string Partition, string Offset), Headers>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (found.Count < bad.Length && DateTime.UtcNow < deadline)
        {
            var message = consumer.Consume(TimeSpan.FromMilliseconds(250));
            if (message?.Message is { Key: var key } m && key == marker)
            {
                found[(Encoding.UTF8.GetString(m.Headers.GetLastBytes("dlq.source.partition")), Encoding.UTF8.GetString(m.Headers.GetLastBytes("dlq.source.offset")))] = m.Headers;
            }
        }

        consumer.Close();
        foreach (var (origin, field) in expected)
        {
            Assert.True(found.TryGetValue(origin, out var headers), $"no dead letter for the bad '{field}' at {origin}");
            string Header(string name) => Encoding.UTF8.GetString(headers.GetLastBytes(name));
            Assert.Equal(field, Header("dlq.field"));
            Assert.False(string.IsNullOrWhiteSpace(Header("dlq.reason")));
            Assert.Equal("events", Header("dlq.source.topic"));
        }

        await PipelineTests.Eventually(async () => await stack.MetricAsync("detector", "helios_detection_dead_lettered_total") >= bad.Length, "dead letters counted");
        // The storage writer read past every one of them (it skips what the detector dead-letters).
        await PipelineTests.Eventually(async () => await stack.MetricAsync("detector", "helios_storage_events_skipped_total") >= bad.Length, "malformed events skipped by storage");
        using var detector = stack.App.CreateHttpClient("detector");
        Assert.Equal(HttpStatusCode.OK, (await detector.GetAsync("/health")).StatusCode);
    }

    [Fact]
    public async Task PublishEvent_TextNotUtf8_Returns400Problem()
    {
        byte[] body = [.. """{"timestamp":"2026-05-01T00:00:00Z","service":"utf","level":"INFO","message":"x"""u8, 0xC3, 0x28, .. "\"}"u8];
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await stack.Api.PostAsync("/api/v1/events", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("$", out var reasons), problem.ToString());
        Assert.Contains("UTF-8", reasons[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PublishBatch_BodyOverLimit_Returns413Problem()
    {
        var huge = "{\"events\":[" + string.Join(',', Enumerable.Repeat($$"""{"timestamp":"2026-05-01T00:00:00Z","service":"big","level":"INFO","message":"{{new string('x', 5000)}}"}""", 1000)) + "]}";
        // Expect: 100-continue lets the server refuse on the headers, as it does, before the body is sent.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events/batch") { Content = new StringContent(huge, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        using var response = await stack.Api.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(413, problem.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task PublishBatch_MoreThan1000Events_Returns400NamingEvents()
    {
        var body = "{\"events\":[" + string.Join(',', Enumerable.Repeat("""{"timestamp":"2026-05-01T00:00:00Z","service":"many","level":"INFO"}""", 1001)) + "]}";
        using var response = await stack.Api.PostAsync("/api/v1/events/batch", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("events", out _));
    }
}
