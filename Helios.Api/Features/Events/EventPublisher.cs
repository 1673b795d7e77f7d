using System.Diagnostics;
using Confluent.Kafka;
using Helios.Core.Events;
using Helios.ServiceDefaults.Configuration;
using Helios.ServiceDefaults.Kafka;
using Microsoft.Extensions.Options;

namespace Helios.Api.Features.Events;

/// <summary>Produces validated events to the events topic, keyed by service, with trace context in headers.</summary>
public sealed class EventPublisher(KafkaClientFactory kafka, IOptions<KafkaTopicsOptions> topics) : IDisposable
{
    private readonly Lazy<IProducer<string, byte[]>> _producer = new(() => kafka.CreateProducer("helios-api"));

    public string Topic => topics.Value.EventsTopic;

    /// <summary>Completes when the broker has acknowledged every event; throws if any was not delivered.</summary>
    public async Task PublishAsync(IReadOnlyList<TelemetryEvent> events, CancellationToken ct)
    {
        using var activity = KafkaTracing.StartPublish(Topic);
        activity?.SetTag("messaging.batch.message_count", events.Count);
        var pending = new List<Task<DeliveryResult<string, byte[]>>>(events.Count);
        foreach (var evt in events)
        {
            var headers = new Headers();
            KafkaTracing.Inject(activity ?? Activity.Current, headers);
            pending.Add(_producer.Value.ProduceAsync(Topic, new Message<string, byte[]> { Key = evt.Service, Value = EventJson.Serialize(evt), Headers = headers }, ct));
        }

        await Task.WhenAll(pending);
    }

    public void Dispose()
    {
        if (_producer.IsValueCreated)
        {
            _producer.Value.Flush(TimeSpan.FromSeconds(5));
            _producer.Value.Dispose();
        }
    }
}
