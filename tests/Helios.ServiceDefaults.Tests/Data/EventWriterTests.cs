using System.Text.Json;
using Helios.Core.Events;
using Helios.ServiceDefaults.Data;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Helios.ServiceDefaults.Tests.Data;

[Collection(InfrastructureCollection.Name)]
public sealed class EventWriterTests(InfrastructureFixture infra)
{
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 23, 58, 0, TimeSpan.Zero); // the batches cross midnight: two daily partitions

    [Fact]
    public async Task WriteAsync_FreshBatchesDirect_ReplayedOverlapThroughStaging_EveryEventStoredAndCountedOnce()
    {
        await using var db = await infra.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(db, NullLogger.Instance, null, CancellationToken.None);
        await using var connection = await db.OpenConnectionAsync();
        var writer = new EventWriter(connection);
        var all = Events(300);

        Assert.Equal(EventWritePath.Direct, await writer.WriteAsync(Batch(all[..150]), CancellationToken.None));
        await AssertStoredExactlyAsync(db, all[..150]);

        // Re-read after a crash: the first 100 are stored already, the last 50 are not.
        Assert.Equal(EventWritePath.Staging, await writer.WriteAsync(Batch(all[50..200]), CancellationToken.None));
        await AssertStoredExactlyAsync(db, all[..200]);

        Assert.Equal(EventWritePath.Direct, await writer.WriteAsync(Batch(all[200..]), CancellationToken.None));
        await AssertStoredExactlyAsync(db, all);

        // The whole stream again, as after a rebalance to a member that had committed nothing: nothing changes.
        Assert.Equal(EventWritePath.Staging, await writer.WriteAsync(Batch(all), CancellationToken.None));
        await AssertStoredExactlyAsync(db, all);
    }

    /// <summary>The text columns arrive as written, from both ways into a batch: the fast reader's and the parser's.</summary>
    [Fact]
    public async Task WriteAsync_TextColumns_AreStoredAsTheEventCarriedThem()
    {
        await using var db = await infra.NewDatabaseAsync();
        await MigrationRunner.ApplyAsync(db, NullLogger.Instance, null, CancellationToken.None);
        await using var connection = await db.OpenConnectionAsync();
        const string Json = """{"timestamp":"2026-03-02T08:00:01Z","service":"café","level":"ERROR","message":"line\nbreak \"q\" é","trace_id":"t1","metadata":{"endpoint":"/x","latency_ms":12.5,"deep":{"k":[1,"é"]}}}""";
        var bytes = System.Text.Encoding.UTF8.GetBytes(Json);
        var batch = new EventBatch();
        Assert.True(new EventFieldsReader().TryReadRow(bytes, batch.Text, out var fields, out var text));
        batch.Add(fields, text, 0, 1);
        Assert.True(EventParser.TryParse(bytes, out var parsed, out _));
        batch.Add(parsed!, 0, 2);
        Assert.Equal(EventWritePath.Direct, await new EventWriter(connection).WriteAsync(batch, CancellationToken.None));

        await using var cmd = db.CreateCommand("SELECT service, message, trace_id, span_id, metadata->>'endpoint', metadata->'deep'->'k'->>1, latency_ms FROM events ORDER BY kafka_offset");
        await using var reader = await cmd.ExecuteReaderAsync();
        for (var row = 0; row < 2; row++)
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal("café", reader.GetString(0));
            Assert.Equal("line\nbreak \"q\" é", reader.GetString(1));
            Assert.Equal("t1", reader.GetString(2));
            Assert.True(reader.IsDBNull(3));
            Assert.Equal("/x", reader.GetString(4));
            Assert.Equal("é", reader.GetString(5));
            Assert.Equal(12.5, reader.GetDouble(6));
        }
    }

    private static EventBatch Batch(IEnumerable<(TelemetryEvent Event, int Partition, long Offset)> events)
    {
        var batch = new EventBatch();
        foreach (var (e, partition, offset) in events)
        {
            batch.Add(e, partition, offset);
        }

        return batch;
    }

    /// <summary>Events over 5 services and 5 minutes, on 2 partitions, some errors, some without a latency.</summary>
    private static (TelemetryEvent Event, int Partition, long Offset)[] Events(int count)
    {
        var random = new Random(5);
        var metadata = JsonDocument.Parse("""{"latency_ms": 12.5, "endpoint": "/v1/x"}""").RootElement;
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            var evt = new TelemetryEvent(Start.AddSeconds(i), $"svc-{i % 5}", i % 7 == 0 ? EventLevel.Error : EventLevel.Info, "m", i % 11 == 0 ? null : metadata, null, null)
            {
                LatencyMs = i % 11 == 0 ? double.NaN : Math.Round(random.NextDouble() * 500, 3),
                Endpoint = i % 11 == 0 ? null : "/v1/x",
            };
            return (evt, i % 2, (long)(i / 2));
        })];
    }

    private static async Task AssertStoredExactlyAsync(NpgsqlDataSource db, (TelemetryEvent Event, int Partition, long Offset)[] expected)
    {
        await using (var rows = db.CreateCommand("SELECT count(*), count(DISTINCT (kafka_partition, kafka_offset)) FROM events"))
        await using (var reader = await rows.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal(expected.Length, reader.GetInt64(0));
            Assert.Equal(expected.Length, reader.GetInt64(1));
        }

        var minutes = new List<(string, DateTime, long, long, long, double, double?)>();
        await using (var cmd = db.CreateCommand("SELECT service, minute, events, errors, latency_count, latency_sum, latency_max FROM event_minutes ORDER BY service, minute"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                minutes.Add((reader.GetString(0), reader.GetDateTime(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), Math.Round(reader.GetDouble(5), 6),
                    reader.IsDBNull(6) ? null : reader.GetDouble(6)));
            }
        }

        var want = expected
            .GroupBy(e => (e.Event.Service, Minute: e.Event.Timestamp.UtcDateTime.AddTicks(-(e.Event.Timestamp.UtcTicks % TimeSpan.TicksPerMinute))))
            .OrderBy(g => g.Key.Service, StringComparer.Ordinal).ThenBy(g => g.Key.Minute)
            .Select(g =>
            {
                var latencies = g.Select(e => e.Event.LatencyMs).Where(l => !double.IsNaN(l)).ToList();
                return (g.Key.Service, g.Key.Minute, (long)g.Count(), (long)g.Count(e => e.Event.Level >= EventLevel.Error), (long)latencies.Count,
                    Math.Round(latencies.Sum(), 6), latencies.Count == 0 ? (double?)null : latencies.Max());
            })
            .ToList();
        Assert.Equal(want, minutes);
    }
}
