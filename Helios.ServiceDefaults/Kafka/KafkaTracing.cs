using System.Diagnostics;
using System.Text;
using Confluent.Kafka;

namespace Helios.ServiceDefaults.Kafka;

/// <summary>
/// Producer and consumer spans with W3C trace context in message headers (traceparent,
/// tracestate), so one trace runs from an API request through Kafka into the detector.
/// </summary>
public static class KafkaTracing
{
    public const string SourceName = "Helios.Kafka";
    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>A producer span; with headers, its context is injected into them (for a batch, inject per message with <see cref="Inject"/>).</summary>
    public static Activity? StartPublish(string topic, Headers? headers = null)
    {
        var activity = Source.StartActivity($"{topic} publish", ActivityKind.Producer);
        if (activity is not null)
        {
            activity.SetTag("messaging.system", "kafka");
            activity.SetTag("messaging.destination.name", topic);
            activity.SetTag("messaging.operation.type", "publish");
        }

        if (headers is not null)
        {
            Inject(activity ?? Activity.Current, headers);
        }

        return activity;
    }

    public static void Inject(Activity? activity, Headers headers)
    {
        if (activity is null)
        {
            return;
        }

        DistributedContextPropagator.Current.Inject(activity, headers, static (carrier, key, value) =>
        {
            if (carrier is Headers h && value is not null)
            {
                h.Remove(key);
                h.Add(key, Encoding.UTF8.GetBytes(value));
            }
        });
    }

    /// <summary>The trace context a message carries, if any.</summary>
    public static ActivityContext? Extract(Headers? headers)
    {
        if (headers is null || !headers.TryGetLastBytes("traceparent", out var bytes))
        {
            return null;
        }

        return Parse(Encoding.UTF8.GetString(bytes), headers.TryGetLastBytes("tracestate", out var ts) ? Encoding.UTF8.GetString(ts) : null);
    }

    /// <summary>The trace context of a traceparent (and tracestate) header's text, if valid.</summary>
    public static ActivityContext? Parse(string? traceParent, string? traceState) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, traceState, out var context) ? context : null;

    public static Activity? StartProcess<TKey>(string topic, ConsumeResult<TKey, byte[]> message) =>
        StartProcess(topic, message.Partition.Value, message.Offset.Value, Extract(message.Message.Headers), message.Message.Key switch
        {
            byte[] utf8 => Encoding.UTF8.GetString(utf8),
            var key => key,
        });

    /// <summary>A consumer span for one message, a child of the producer's context when the message carried one.</summary>
    public static Activity? StartProcess(string topic, int partition, long offset, ActivityContext? parent, object? key)
    {
        var activity = parent is { } ctx
            ? Source.StartActivity($"{topic} process", ActivityKind.Consumer, ctx)
            : Source.StartActivity($"{topic} process", ActivityKind.Consumer);
        if (activity is not null)
        {
            activity.SetTag("messaging.system", "kafka");
            activity.SetTag("messaging.destination.name", topic);
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.destination.partition.id", partition.ToString(System.Globalization.CultureInfo.InvariantCulture));
            activity.SetTag("messaging.kafka.offset", offset);
            activity.SetTag("messaging.kafka.message.key", key);
        }

        return activity;
    }
}
