using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;

namespace Helios.Core.Alerts;

public sealed record TopFeature(
    [property: JsonPropertyName("feature")] string Feature,
    [property: JsonPropertyName("value")] double Value,
    [property: JsonPropertyName("baseline")] double Baseline,
    [property: JsonPropertyName("z")] double RobustZ,
    [property: JsonPropertyName("share")] double Share);

/// <summary>The alert as published to the alerts topic and returned by the API (snake_case JSON).</summary>
public sealed record AnomalyAlert(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("service")] string Service,
    [property: JsonPropertyName("severity")] string Severity,
    [property: JsonPropertyName("score")] double Score,
    [property: JsonPropertyName("normalized_score")] double NormalizedScore,
    [property: JsonPropertyName("threshold")] double Threshold,
    [property: JsonPropertyName("features")] IReadOnlyDictionary<string, double> Features,
    [property: JsonPropertyName("top_features")] IReadOnlyList<TopFeature> TopFeatures,
    [property: JsonPropertyName("explanation")] string Explanation,
    [property: JsonPropertyName("window_start")] DateTimeOffset WindowStart,
    [property: JsonPropertyName("window_end")] DateTimeOffset WindowEnd,
    [property: JsonPropertyName("event_count")] int EventCount,
    [property: JsonPropertyName("model_version")] long ModelVersion,
    [property: JsonPropertyName("detected_at")] DateTimeOffset DetectedAt,
    [property: JsonPropertyName("status")] string Status = "open",
    [property: JsonPropertyName("suppressed_count")] int SuppressedCount = 0,
    [property: JsonPropertyName("detected_by")] string DetectedBy = AlertRules.Forest,
    [property: JsonPropertyName("evidence")] double? Evidence = null,
    [property: JsonPropertyName("evidence_threshold")] double? EvidenceThreshold = null,
    [property: JsonPropertyName("closed_at")] DateTimeOffset? ClosedAt = null);

/// <summary>What raised an alert: the corroborated surprise of a service the model has a baseline for, or the forest's decision.</summary>
public static class AlertRules
{
    public const string Evidence = "evidence";
    public const string Forest = "forest";
}

public static class AlertIds
{
    /// <summary>Deterministic from service and window start, so a replayed window maps to the same alert.</summary>
    public static Guid For(string service, DateTimeOffset windowStart)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{service}\n{windowStart.ToUnixTimeMilliseconds()}"));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x80); // RFC 9562 version 8 (custom)
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16), bigEndian: true);
    }
}
