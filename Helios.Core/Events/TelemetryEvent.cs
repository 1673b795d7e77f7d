using System.Text.Json;

namespace Helios.Core.Events;

public enum EventLevel : byte { Debug, Info, Warn, Error, Critical }

/// <summary>A validated telemetry event (SPEC section 2). Metadata is kept verbatim.</summary>
public sealed record TelemetryEvent(
    DateTimeOffset Timestamp,
    string Service,
    EventLevel Level,
    string Message,
    JsonElement? Metadata,
    string? TraceId,
    string? SpanId)
{
    /// <summary>metadata.latency_ms when it is a positive number, else NaN (no latency).</summary>
    public double LatencyMs { get; init; } = double.NaN;

    /// <summary>metadata.endpoint when it is a string.</summary>
    public string? Endpoint { get; init; }

    public bool IsError => Level >= EventLevel.Error;
}

/// <summary>Why an event was rejected: the JSON field and a sentence a person can act on.</summary>
public sealed record EventError(string Field, string Reason);
