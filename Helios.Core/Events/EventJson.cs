using System.Text.Json;

namespace Helios.Core.Events;

/// <summary>Writes events in the wire shape that <see cref="EventParser"/> reads.</summary>
public static class EventJson
{
    public static byte[] Serialize(TelemetryEvent evt)
    {
        using var buffer = new MemoryStream(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("timestamp", evt.Timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("service", evt.Service);
            w.WriteString("level", EventParser.LevelName(evt.Level));
            w.WriteString("message", evt.Message);
            if (evt.Metadata is { } md)
            {
                w.WritePropertyName("metadata");
                md.WriteTo(w);
            }

            if (evt.TraceId is not null)
            {
                w.WriteString("trace_id", evt.TraceId);
            }

            if (evt.SpanId is not null)
            {
                w.WriteString("span_id", evt.SpanId);
            }

            w.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
