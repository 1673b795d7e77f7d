using Npgsql;

namespace Helios.ServiceDefaults.Data;

/// <summary>A closed window as stored: scored or skipped (too few events), with its result (a value: the detector records thousands a second, in lists it reuses).</summary>
public readonly record struct WindowRecord(
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
    private const string Columns = "service, window_start, window_end, event_count, scored, features, score, decision, is_anomaly, alert_id, model_version, surprise, evidence";

    /// <summary>
    /// Stores the windows and returns how many this call stored. Usually none of them is recorded yet, and one binary
    /// COPY puts them straight into the table. When one is (another member recorded it during a rebalance), that COPY
    /// fails as a whole on the key, and the batch goes through a session staging table and one INSERT with ON CONFLICT
    /// DO NOTHING, so a window stored already keeps its first record. Either way a slot's 10,000 windows take one
    /// statement, not 10,000; the direct COPY costs PostgreSQL about half the staged path's work.
    /// </summary>
    public async Task<int> TryStoreAsync(IReadOnlyList<WindowRecord> windows, CancellationToken ct)
    {
        if (windows.Count == 0)
        {
            return 0;
        }

        await using var connection = await db.OpenConnectionAsync(ct);
        try
        {
            await CopyAsync(connection, "scored_windows", windows, ct);
            return windows.Count;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
        {
            // Some were recorded already: the staged path below keeps their first records.
        }

        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var staging = new NpgsqlCommand(
            "CREATE TEMP TABLE IF NOT EXISTS scored_windows_staging (LIKE scored_windows INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", connection, tx))
        {
            await staging.ExecuteNonQueryAsync(ct);
        }

        await CopyAsync(connection, "scored_windows_staging", windows, ct);
        int stored;
        await using (var insert = new NpgsqlCommand(
            $"INSERT INTO scored_windows ({Columns}) SELECT {Columns} FROM scored_windows_staging ON CONFLICT (service, window_start) DO NOTHING", connection, tx))
        {
            stored = await insert.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return stored;
    }

    /// <summary>One binary COPY of the windows into <paramref name="table"/>, encoded by <see cref="WindowCopyRows"/>.</summary>
    private static Task CopyAsync(NpgsqlConnection connection, string table, IReadOnlyList<WindowRecord> windows, CancellationToken ct) =>
        RawCopy.WriteRowsAsync(connection, $"COPY {table} ({Columns}) FROM STDIN (FORMAT BINARY)", windows, WindowCopyRows.MaxBytes, WindowCopyRows.Write, ct);

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
