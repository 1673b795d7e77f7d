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

        var traceState = headers.TryGetLastBytes("tracestate", out var ts) ? Encoding.UTF8.GetString(ts) : null;
        return ActivityContext.TryParse(Encoding.UTF8.GetString(bytes), traceState, out var context) ? context : null;
    }

    public static Activity? StartProcess<TKey>(string topic, ConsumeResult<TKey, byte[]> message)
    {
        var parent = Extract(message.Message.Headers);
        var activity = parent is { } ctx
            ? Source.StartActivity($"{topic} process", ActivityKind.Consumer, ctx)
            : Source.StartActivity($"{topic} process", ActivityKind.Consumer);
        if (activity is not null)
        {
            activity.SetTag("messaging.system", "kafka");
            activity.SetTag("messaging.destination.name", topic);
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.destination.partition.id", message.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
            activity.SetTag("messaging.kafka.offset", message.Offset.Value);
            activity.SetTag("messaging.kafka.message.key", message.Message.Key switch
            {
                byte[] utf8 => Encoding.UTF8.GetString(utf8),
                var key => key,
            });
        }

        return activity;
    }
}
