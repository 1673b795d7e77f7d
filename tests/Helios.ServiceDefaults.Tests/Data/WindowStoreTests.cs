using Helios.ServiceDefaults.Data;
using Npgsql;

namespace Helios.ServiceDefaults.Tests.Data;

[Collection(InfrastructureCollection.Name)]
public sealed class WindowStoreTests(InfrastructureFixture infra)
{
    private static readonly DateTimeOffset Slot = new(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task TryStoreAsync_NewWindowsDirect_BatchWithARecordedWindowKeepsItsFirstRecordAndStoresTheRest()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        var store = new WindowStore(db);

        var first = new[] { Window("svc-a", 0, score: 0.41, surprise: 1.5), Window("svc-b", 0, score: 0.42, surprise: 2.5), Skipped("svc-c", 0) };
        Assert.Equal(3, await store.TryStoreAsync(first, CancellationToken.None));

        // svc-a's first window again, scored differently (as another member would after a rebalance), with two new windows.
        var second = new[] { Window("svc-a", 0, score: 0.99, surprise: 9.0), Window("svc-a", 1, score: 0.43, surprise: 3.5), Skipped("svc-c", 1) };
        Assert.Equal(2, await store.TryStoreAsync(second, CancellationToken.None));

        var rows = await RowsAsync(db);
        Assert.Equal(
            [("svc-a", Slot, 0.41), ("svc-a", Slot.AddMinutes(1), 0.43), ("svc-b", Slot, 0.42), ("svc-c", Slot, (double?)null), ("svc-c", Slot.AddMinutes(1), null)],
            rows);

        var history = await store.HistoryAsync("svc-a", CancellationToken.None);
        Assert.Equal(Slot.AddMinutes(1), history.LastClosed);
        Assert.Equal([(Slot.AddMinutes(1), 3.5), (Slot, 1.5)], history.Recent);
        Assert.Equal(0, await store.TryStoreAsync([], CancellationToken.None));
    }

    /// <summary>The records are encoded by Helios for the binary COPY: every column comes back as the record carried it, nulls included.</summary>
    [Fact]
    public async Task TryStoreAsync_EveryColumn_IsStoredAsTheRecordCarriedIt()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        var store = new WindowStore(db);
        var alertId = Guid.Parse("0f8fad5b-d9cb-469f-a165-70867728950e");
        var scored = new WindowRecord("svc-é", Slot.AddTicks(10), Slot.AddMinutes(1), 20, Scored: true, [1.5, -2.25, 3e10, 0, double.Epsilon],
            0.61, -0.07, IsAnomaly: true, alertId, ModelVersion: 42, Surprise: 7.5, Evidence: 8.25);
        var normal = Window("svc-b", 0, score: 0.42, surprise: 2.5);
        Assert.Equal(3, await store.TryStoreAsync([scored, normal, Skipped("svc-c", 0)], CancellationToken.None));

        await using var cmd = db.CreateCommand(
            "SELECT service, window_start, window_end, event_count, scored, features, score, decision, is_anomaly, alert_id, model_version, surprise, evidence FROM scored_windows ORDER BY service");
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<WindowRecord>();
        while (await reader.ReadAsync())
        {
            double? Double(int i) => reader.IsDBNull(i) ? null : reader.GetDouble(i);
            rows.Add(new WindowRecord(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetFieldValue<DateTimeOffset>(2), reader.GetInt32(3),
                reader.GetBoolean(4), reader.IsDBNull(5) ? null : reader.GetFieldValue<double[]>(5), Double(6), Double(7), reader.GetBoolean(8),
                reader.IsDBNull(9) ? null : reader.GetGuid(9), reader.IsDBNull(10) ? null : reader.GetInt64(10), Double(11), Double(12)));
        }

        Assert.Equal(3, rows.Count);
        Assert.Equal(normal with { Features = null }, rows[0] with { Features = null });
        Assert.Equal(normal.Features, rows[0].Features);
        Assert.Equal(Skipped("svc-c", 0), rows[1]);
        Assert.Equal(scored with { Features = null }, rows[2] with { Features = null });
        Assert.Equal(scored.Features, rows[2].Features);
    }

    private static WindowRecord Window(string service, int slot, double score, double surprise) =>
        new(service, Slot.AddMinutes(slot), Slot.AddMinutes(slot + 1), 20, Scored: true, [1.0, 2.0, 3.0], score, score - 0.5, IsAnomaly: false,
            AlertId: null, ModelVersion: 1, surprise, Evidence: surprise);

    private static WindowRecord Skipped(string service, int slot) => new(service, Slot.AddMinutes(slot), Slot.AddMinutes(slot + 1), 3, Scored: false);

    private static async Task<List<(string, DateTimeOffset, double?)>> RowsAsync(NpgsqlDataSource db)
    {
        await using var cmd = db.CreateCommand("SELECT service, window_start, score FROM scored_windows ORDER BY service, window_start");
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<(string, DateTimeOffset, double?)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(1), DateTimeKind.Utc)), reader.IsDBNull(2) ? null : reader.GetDouble(2)));
        }

        return rows;
    }
}
