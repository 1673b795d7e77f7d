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
    long? ModelVersion = null,
    double? Surprise = null,
    double? Evidence = null);

/// <summary>What the store knows of a service: its newest recorded window and the surprises of its last two.</summary>
public sealed record ServiceHistory(DateTimeOffset? LastClosed, IReadOnlyList<(DateTimeOffset Start, double Surprise)> Recent);

/// <summary>
/// The scored_windows table: the first record of a window wins (a replay after a crash changes
/// nothing), and the newest window per service tells where a restarted detector resumes.
/// </summary>
public sealed class WindowStore(NpgsqlDataSource db)
{
    /// <summary>Stores the windows in one round trip; a window stored already keeps its first record. Returns how many this call stored.</summary>
    public async Task<int> TryStoreAsync(IReadOnlyList<WindowRecord> windows, CancellationToken ct)
    {
        if (windows.Count == 0)
        {
            return 0;
        }

        await using var batch = db.CreateBatch();
        foreach (var w in windows)
        {
            var cmd = new NpgsqlBatchCommand(
                """
                INSERT INTO scored_windows (service, window_start, window_end, event_count, scored, features, score, decision, is_anomaly, alert_id, model_version, surprise, evidence)
                VALUES (@service, @start, @end, @count, @scored, @features, @score, @decision, @anomaly, @alert, @model, @surprise, @evidence)
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
            cmd.Parameters.AddWithValue("surprise", (object?)w.Surprise ?? DBNull.Value);
            cmd.Parameters.AddWithValue("evidence", (object?)w.Evidence ?? DBNull.Value);
            batch.BatchCommands.Add(cmd);
        }

        return await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The service's newest recorded window (every earlier one is closed too) and the surprises of its last two scored windows.</summary>
    public async Task<ServiceHistory> HistoryAsync(string service, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT window_start, surprise FROM scored_windows WHERE service = @service ORDER BY window_start DESC LIMIT 2");
        cmd.Parameters.AddWithValue("service", service);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        DateTimeOffset? last = null;
        var recent = new List<(DateTimeOffset, double)>(2);
        while (await reader.ReadAsync(ct))
        {
            var start = new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc));
            last ??= start;
            if (!reader.IsDBNull(1))
            {
                recent.Add((start, reader.GetDouble(1)));
            }
        }

        return new ServiceHistory(last, recent);
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
