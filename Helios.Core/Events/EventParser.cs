using System.Globalization;
using System.Text.Json;
using System.Text.Unicode;

namespace Helios.Core.Events;

/// <summary>
/// The one validation path for events, shared by the REST API and the Kafka consumer,
/// so an event accepted by one is accepted by the other.
/// </summary>
public static class EventParser
{
    public const int MaxServiceLength = 255;

    private static readonly EventError NotUtf8 = new("$", "Contains text that is not valid UTF-8 (or an escaped lone surrogate).");

    public static bool TryParse(ReadOnlySpan<byte> utf8Json, out TelemetryEvent? evt, out EventError? error)
    {
        if (!Utf8.IsValid(utf8Json))
        {
            evt = null;
            error = NotUtf8;
            return false;
        }

        try
        {
            using var doc = JsonDocument.Parse(utf8Json.ToArray());
            return TryParse(doc.RootElement, out evt, out error);
        }
        catch (JsonException ex)
        {
            evt = null;
            error = new EventError("$", $"Body is not valid JSON: {ex.Message}");
            return false;
        }
    }

    public static bool TryParse(JsonElement json, out TelemetryEvent? evt, out EventError? error)
    {
        try
        {
            return TryParseElement(json, out evt, out error);
        }
        catch (InvalidOperationException)
        {
            // A string that is not valid UTF-8, or an escaped lone surrogate: JsonElement.GetString cannot decode it.
            evt = null;
            error = NotUtf8;
            return false;
        }
    }

    private static bool TryParseElement(JsonElement json, out TelemetryEvent? evt, out EventError? error)
    {
        evt = null;
        error = Validate(json, out var timestamp, out var service, out var level);
        if (error is not null)
        {
            return false;
        }

        var message = json.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "";
        JsonElement? metadata = json.TryGetProperty("metadata", out var md) && md.ValueKind == JsonValueKind.Object ? md.Clone() : null;
        var latency = double.NaN;
        string? endpoint = null;
        if (metadata is { } meta)
        {
            if (meta.TryGetProperty("latency_ms", out var l) && l.ValueKind == JsonValueKind.Number && l.TryGetDouble(out var lv) && lv > 0 && double.IsFinite(lv))
            {
                latency = lv;
            }

            if (meta.TryGetProperty("endpoint", out var e) && e.ValueKind == JsonValueKind.String)
            {
                endpoint = e.GetString();
            }
        }

        evt = new TelemetryEvent(timestamp, service!, level, message, metadata, OptionalString(json, "trace_id"), OptionalString(json, "span_id"))
        {
            LatencyMs = latency,
            Endpoint = endpoint,
        };
        return true;
    }

    private static EventError? Validate(JsonElement json, out DateTimeOffset timestamp, out string? service, out EventLevel level)
    {
        timestamp = default;
        service = null;
        level = default;
        if (json.ValueKind != JsonValueKind.Object)
        {
            return new EventError("$", "An event must be a JSON object.");
        }

        var tsField = json.TryGetProperty("timestamp", out var ts) ? "timestamp" : json.TryGetProperty("time", out ts) ? "time" : null;
        if (tsField is null)
        {
            return new EventError("timestamp", "Required: an RFC 3339 time such as 2026-01-05T08:00:00Z.");
        }

        if (ts.ValueKind != JsonValueKind.String || !TryParseTimestamp(ts.GetString()!, out timestamp))
        {
            return new EventError(tsField, "Must be an RFC 3339 time such as 2026-01-05T08:00:00Z.");
        }

        if (!json.TryGetProperty("service", out var s) || s.ValueKind != JsonValueKind.String)
        {
            return new EventError("service", "Required: a string of 1 to 255 characters.");
        }

        service = s.GetString()!;
        if (service.Length is 0 or > MaxServiceLength || string.IsNullOrWhiteSpace(service))
        {
            return new EventError("service", $"Must be 1 to {MaxServiceLength} characters (got {service.Length}).");
        }

        if (!json.TryGetProperty("level", out var lv) || lv.ValueKind != JsonValueKind.String || !TryParseLevel(lv.GetString()!, out level))
        {
            return new EventError("level", "Must be one of DEBUG, INFO, WARN, ERROR, CRITICAL.");
        }

        if (json.TryGetProperty("message", out var m) && m.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
        {
            return new EventError("message", "Must be a string.");
        }

        if (json.TryGetProperty("metadata", out var md) && md.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
        {
            return new EventError("metadata", "Must be a JSON object.");
        }

        foreach (var field in (ReadOnlySpan<string>)["trace_id", "span_id"])
        {
            if (json.TryGetProperty(field, out var f) && f.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
            {
                return new EventError(field, "Must be a string.");
            }
        }

        return null;
    }

    public static bool TryParseTimestamp(string text, out DateTimeOffset timestamp) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out timestamp);

    public static bool TryParseLevel(string text, out EventLevel level)
    {
        switch (text.ToUpperInvariant())
        {
            case "DEBUG": level = EventLevel.Debug; return true;
            case "INFO": level = EventLevel.Info; return true;
            case "WARN" or "WARNING": level = EventLevel.Warn; return true;
            case "ERROR": level = EventLevel.Error; return true;
            case "CRITICAL": level = EventLevel.Critical; return true;
            default: level = default; return false;
        }
    }

    public static string LevelName(EventLevel level) => level switch
    {
        EventLevel.Debug => "DEBUG",
        EventLevel.Info => "INFO",
        EventLevel.Warn => "WARN",
        EventLevel.Error => "ERROR",
        _ => "CRITICAL",
    };

    private static string? OptionalString(JsonElement json, string name) =>
        json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
