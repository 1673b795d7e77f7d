using System.Text.Json;
using Helios.Core.Alerts;
using Helios.Core.Detection;
using Npgsql;
using NpgsqlTypes;

namespace Helios.Detector.Detection;

/// <summary>Alert persistence. Upserts by the deterministic id, so a replayed window never duplicates.</summary>
public sealed class AlertStore(NpgsqlDataSource db)
{
    /// <summary>Stores the alerts in one round trip (insert, or refresh of a replayed window's alert).</summary>
    public async Task UpsertAsync(IReadOnlyList<AnomalyAlert> alerts, CancellationToken ct)
    {
        if (alerts.Count == 0)
        {
            return;
        }

        await using var batch = db.CreateBatch();
        foreach (var a in alerts)
        {
            var cmd = new NpgsqlBatchCommand(
                """
                INSERT INTO alerts (id, service, severity, score, normalized_score, threshold, features, top_features, explanation,
                                    window_start, window_end, event_count, model_version, detected_at, status, suppressed_count,
                                    detected_by, evidence, evidence_threshold, closed_at)
                VALUES (@id, @service, @severity, @score, @normalized, @threshold, @features, @top, @explanation,
                        @start, @end, @count, @model, @detected, @status, @suppressed, @detected_by, @evidence, @evidence_threshold, @closed_at)
                ON CONFLICT (id) DO UPDATE SET severity = EXCLUDED.severity, score = EXCLUDED.score,
                    normalized_score = EXCLUDED.normalized_score, features = EXCLUDED.features, top_features = EXCLUDED.top_features,
                    explanation = EXCLUDED.explanation, event_count = EXCLUDED.event_count, model_version = EXCLUDED.model_version,
                    detected_by = EXCLUDED.detected_by, evidence = EXCLUDED.evidence, evidence_threshold = EXCLUDED.evidence_threshold
                """);
            cmd.Parameters.AddWithValue("id", a.Id);
            cmd.Parameters.AddWithValue("service", a.Service);
            cmd.Parameters.AddWithValue("severity", a.Severity);
            cmd.Parameters.AddWithValue("score", a.Score);
            cmd.Parameters.AddWithValue("normalized", a.NormalizedScore);
            cmd.Parameters.AddWithValue("threshold", a.Threshold);
            cmd.Parameters.AddWithValue("features", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(a.Features));
            cmd.Parameters.AddWithValue("top", NpgsqlDbType.Jsonb, JsonSerializer.Serialize(a.TopFeatures));
            cmd.Parameters.AddWithValue("explanation", a.Explanation);
            cmd.Parameters.AddWithValue("start", a.WindowStart);
            cmd.Parameters.AddWithValue("end", a.WindowEnd);
            cmd.Parameters.AddWithValue("count", a.EventCount);
            cmd.Parameters.AddWithValue("model", a.ModelVersion);
            cmd.Parameters.AddWithValue("detected", a.DetectedAt);
            cmd.Parameters.AddWithValue("status", a.Status);
            cmd.Parameters.AddWithValue("suppressed", a.SuppressedCount);
            cmd.Parameters.AddWithValue("detected_by", a.DetectedBy);
            cmd.Parameters.AddWithValue("evidence", (object?)a.Evidence ?? DBNull.Value);
            cmd.Parameters.AddWithValue("evidence_threshold", (object?)a.EvidenceThreshold ?? DBNull.Value);
            cmd.Parameters.AddWithValue("closed_at", (object?)a.ClosedAt ?? DBNull.Value);
            batch.BatchCommands.Add(cmd);
        }

        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Sets each open alert's suppressed count from the stored windows it suppressed, rather than adding
    /// one, so a window replayed after a crash is not counted twice.
    /// </summary>
    public async Task RecountSuppressedAsync(IReadOnlyCollection<Guid> openAlerts, CancellationToken ct)
    {
        if (openAlerts.Count == 0)
        {
            return;
        }

        await using var cmd = db.CreateCommand(
            """
            UPDATE alerts a SET suppressed_count = (
                SELECT count(*) FROM scored_windows w
                WHERE w.alert_id = a.id AND w.service = a.service AND w.window_start <> a.window_start)
            WHERE a.id = ANY(@ids)
            """);
        cmd.Parameters.AddWithValue("ids", openAlerts.ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The newest alert of the service (what its cooldown compares against after a restart), or null.</summary>
    public async Task<OpenAlert?> LatestAsync(string service, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT id, window_start, severity FROM alerts WHERE service = @service ORDER BY window_start DESC LIMIT 1");
        cmd.Parameters.AddWithValue("service", service);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        var severity = SeverityPolicy.TryParse(reader.GetString(2), out var s) ? s : Severity.Low;
        return new OpenAlert(reader.GetGuid(0), new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc)), severity);
    }
}
