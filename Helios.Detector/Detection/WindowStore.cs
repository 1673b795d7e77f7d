using Npgsql;

namespace Helios.Detector.Detection;

/// <summary>A closed window as stored: scored or skipped (too few events), with its result.</summary>
public sealed record WindowRecord(
    string Service,
    DateTimeOffset Start,
    DateTimeOffset End,
    int EventCount,
    bool Scored,
    double[]? Features = null,
    double? Score = null,
    double? Decision = null,
    bool IsAnomaly = false,
    Guid? AlertId = null,
    long? ModelVersion = null);

/// <summary>
/// The scored_windows table: the first record of a window wins (a replay after a crash changes
/// nothing), and the newest window per service tells where a restarted detector resumes.
/// </summary>
public sealed class WindowStore(NpgsqlDataSource db)
{
    /// <summary>Stores the window unless it is stored already; true when this call stored it.</summary>
    public async Task<bool> TryStoreAsync(WindowRecord w, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            INSERT INTO scored_windows (service, window_start, window_end, event_count, scored, features, score, decision, is_anomaly, alert_id, model_version)
            VALUES (@service, @start, @end, @count, @scored, @features, @score, @decision, @anomaly, @alert, @model)
            ON CONFLICT (service, window_start) DO NOTHING
            """);
        cmd.Parameters.AddWithValue("service", w.Service);
        cmd.Parameters.AddWithValue("start", w.Start);
        cmd.Parameters.AddWithValue("end", w.End);
        cmd.Parameters.AddWithValue("count", w.EventCount);
        cmd.Parameters.AddWithValue("scored", w.Scored);
        cmd.Parameters.AddWithValue("features", (object?)w.Features ?? DBNull.Value);
        cmd.Parameters.AddWithValue("score", (object?)w.Score ?? DBNull.Value);
        cmd.Parameters.AddWithValue("decision", (object?)w.Decision ?? DBNull.Value);
        cmd.Parameters.AddWithValue("anomaly", w.IsAnomaly);
        cmd.Parameters.AddWithValue("alert", (object?)w.AlertId ?? DBNull.Value);
        cmd.Parameters.AddWithValue("model", (object?)w.ModelVersion ?? DBNull.Value);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Start of the newest stored window of the service (every earlier one is closed too), or null.</summary>
    public async Task<DateTimeOffset?> LastClosedAsync(string service, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT max(window_start) FROM scored_windows WHERE service = @service");
        cmd.Parameters.AddWithValue("service", service);
        return await cmd.ExecuteScalarAsync(ct) is DateTime at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null;
    }

    /// <summary>Counts a late event on the window it belonged to (no row: a window that never opened, nothing to count on).</summary>
    public async Task CountLateAsync(string service, DateTimeOffset windowStart, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("UPDATE scored_windows SET late_events = late_events + 1 WHERE service = @service AND window_start = @start");
        cmd.Parameters.AddWithValue("service", service);
        cmd.Parameters.AddWithValue("start", windowStart);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
