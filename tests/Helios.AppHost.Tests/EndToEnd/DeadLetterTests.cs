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
        var bad = new (string Body, string Field)[]
        {
            ("{not json " + marker, "$"),
            ($$"""{"timestamp":"2026-05-01T00:00:00Z","level":"INFO","message":"{{marker}}"}""", "service"),
            ($$"""{"timestamp":"2026-05-01T00:00:00Z","service":"{{marker}}","level":"SHOUT"}""", "level"),
            ($$"""{"timestamp":12,"service":"{{marker}}","level":"INFO"}""", "timestamp"),
        };
        var offsets = new Dictionary<string, (int Partition, long Offset)>();
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap }).Build())
        {
            foreach (var (body, field) in bad)
            {
                var result = await producer.ProduceAsync("events", new Message<string, byte[]> { Key = marker, Value = Encoding.UTF8.GetBytes(body) });
                offsets[field] = (result.Partition.Value, result.Offset.Value);
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
        var found = new Dictionary<string, Headers>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (found.Count < bad.Length && DateTime.UtcNow < deadline)
        {
            var message = consumer.Consume(TimeSpan.FromMilliseconds(250));
            if (message?.Message is { Key: var key } m && key == marker)
            {
                found[Encoding.UTF8.GetString(m.Headers.GetLastBytes("dlq.field"))] = m.Headers;
            }
        }

        consumer.Close();
        foreach (var (_, field) in bad)
        {
            Assert.True(found.TryGetValue(field, out var headers), $"no dead letter for a bad '{field}'");
            string Header(string name) => Encoding.UTF8.GetString(headers.GetLastBytes(name));
            Assert.False(string.IsNullOrWhiteSpace(Header("dlq.reason")));
            Assert.Equal("events", Header("dlq.source.topic"));
            Assert.Equal(offsets[field].Partition.ToString(System.Globalization.CultureInfo.InvariantCulture), Header("dlq.source.partition"));
            Assert.Equal(offsets[field].Offset.ToString(System.Globalization.CultureInfo.InvariantCulture), Header("dlq.source.offset"));
        }

        await PipelineTests.Eventually(async () => await stack.MetricAsync("detector", "helios_detection_dead_lettered_total") >= bad.Length, "dead letters counted");
        using var detector = stack.App.CreateHttpClient("detector");
        Assert.Equal(HttpStatusCode.OK, (await detector.GetAsync("/health")).StatusCode);
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
