using System.Diagnostics;
using Confluent.Kafka;
using Helios.ServiceDefaults.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Helios.ServiceDefaults.Tests.Kafka;

[Collection(InfrastructureCollection.Name)]
public sealed class KafkaTracingTests(InfrastructureFixture infra)
{
    [Fact]
    public async Task PublishThenConsume_OverTheBroker_ContinuesTheSameTrace()
    {
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is KafkaTracing.SourceName or "test",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (spans) { spans.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);
        using var testSource = new ActivitySource("test");
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:kafka"] = infra.Kafka.BootstrapServers }).Build();
        var factory = new KafkaClientFactory(config, NullLoggerFactory.Instance);
        var topic = "trace-" + Guid.NewGuid().ToString("N")[..6];
        infra.Kafka.CreateTopic(topic, 1);

        ActivityTraceId requestTrace;
        using (var request = testSource.StartActivity("POST /api/v1/events", ActivityKind.Server))
        {
            requestTrace = request!.TraceId;
            using var producer = factory.CreateProducer("test-producer");
            var headers = new Headers();
            using (KafkaTracing.StartPublish(topic, headers))
            {
                await producer.ProduceAsync(topic, new Message<string, byte[]> { Key = "svc", Value = [1], Headers = headers });
            }
        }

        using var consumer = factory.CreateConsumer<string>("g-" + topic, "test-consumer");
        consumer.Subscribe(topic);
        var message = consumer.Consume(TimeSpan.FromSeconds(30));
        Assert.NotNull(message);
        using (var process = KafkaTracing.StartProcess(topic, message))
        {
            Assert.NotNull(process);
            Assert.Equal(requestTrace, process.TraceId);
            Assert.Equal(ActivityKind.Consumer, process.Kind);
        }

        consumer.Close();
        var publish = Assert.Single(spans, s => s.DisplayName == $"{topic} publish");
        var processed = Assert.Single(spans, s => s.DisplayName == $"{topic} process");
        Assert.Equal(publish.SpanId, processed.ParentSpanId);
        Assert.Equal("kafka", publish.GetTagItem("messaging.system"));
    }

    [Fact]
    public void Extract_MessageWithoutTraceparent_IsNull() =>
        Assert.Null(KafkaTracing.Extract(new Headers { { "other", [1] } }));
}
