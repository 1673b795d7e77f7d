using Npgsql;

namespace Helios.AppHost.Tests.EndToEnd;

/// <summary>Reads what the detector stored, for an event-time range and, when given, some services only.</summary>
public static class TestDatabase
{
    /// <summary>Runs a scalar query with @start, @end and @services bound; the query appends its own filter on them.</summary>
    public static async Task<long> ScalarAsync(NpgsqlDataSource db, string sql, DateTimeOffset start, DateTimeOffset end, IEnumerable<string>? services = null)
    {
        await using var cmd = Command(db, sql, start, end, services);
        return await cmd.ExecuteScalarAsync() is long value ? value : -1;
    }

    /// <summary>Event count of every recorded window with a start in [start, end).</summary>
    public static async Task<Dictionary<(string Service, DateTimeOffset Start), int>> WindowEventCountsAsync(NpgsqlDataSource db, DateTimeOffset start, DateTimeOffset end, IEnumerable<string>? services = null)
    {
        var filter = services is null ? "" : " AND service = ANY(@services)";
        await using var cmd = Command(db, $"SELECT service, window_start, event_count FROM scored_windows WHERE window_start >= @start AND window_start < @end{filter}", start, end, services);
        await using var reader = await cmd.ExecuteReaderAsync();
        var counts = new Dictionary<(string, DateTimeOffset), int>();
        while (await reader.ReadAsync())
        {
            counts.Add((reader.GetString(0), new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc))), reader.GetInt32(2));
        }

        return counts;
    }

    /// <summary>A command with @start, @end and (when given) @services bound.</summary>
    public static NpgsqlCommand Command(NpgsqlDataSource db, string sql, DateTimeOffset start, DateTimeOffset end, IEnumerable<string>? services = null)
    {
        var cmd = db.CreateCommand(sql);
        cmd.Parameters.AddWithValue("start", start);
        cmd.Parameters.AddWithValue("end", end);
        if (services is not null)
        {
            cmd.Parameters.AddWithValue("services", services.ToArray());
        }

        return cmd;
    }
}
