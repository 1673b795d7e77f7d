using System.Text.Json;
using Helios.Core.Events;
using Helios.ServiceDefaults.Data;
using Npgsql;

namespace Helios.ServiceDefaults.Tests.Data;

[Collection(InfrastructureCollection.Name)]
public sealed class EventWriterTests(InfrastructureFixture infra)
{
    private static readonly DateTimeOffset Start = new(2026, 11, 30, 23, 58, 0, TimeSpan.Zero); // the batches cross midnight: two daily partitions

    [Fact]
    public async Task WriteAsync_FreshBatchesWhole_ReplayedOverlapLeavesOutWhatTheLedgerHas_EveryEventStoredAndCountedOnce()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        await using var connection = await db.OpenConnectionAsync();
        var writer = new EventWriter(connection);
        var all = Events(300);

        Assert.Equal(new EventWriteResult(EventWritePath.Direct, 150, 0), await WriteAsync(writer, all[..150]));
        await AssertStoredExactlyAsync(db, all[..150]);
        await FoldAndAssertAsync(connection, db, all[..150]);
        await AssertLedgerAsync(db, all[..150]);

        // Read again after a crash: the first 100 are stored already, the last 50 are not.
        Assert.Equal(new EventWriteResult(EventWritePath.Filtered, 50, 100), await WriteAsync(writer, all[50..200]));
        await AssertStoredExactlyAsync(db, all[..200]);
        await AssertLedgerAsync(db, all[..200]);

        Assert.Equal(new EventWriteResult(EventWritePath.Direct, 100, 0), await WriteAsync(writer, all[200..]));
        await AssertStoredExactlyAsync(db, all);

        // The whole stream again, as after a rebalance to a member that had committed nothing: nothing changes.
        Assert.Equal(new EventWriteResult(EventWritePath.Filtered, 0, 300), await WriteAsync(writer, all));
        await AssertStoredExactlyAsync(db, all);
        await FoldAndAssertAsync(connection, db, all);
        await AssertLedgerAsync(db, all);

        // The ledger is per topic: the same partitions and offsets of another topic are other messages.
        Assert.Equal(new EventWriteResult(EventWritePath.Direct, 300, 0), await WriteAsync(writer, all, topic: "events-other"));
        await using var count = db.CreateCommand("SELECT count(*) FROM events");
        Assert.Equal(600L, (long)(await count.ExecuteScalarAsync())!);
    }

    /// <summary>
    /// Two writers on two connections, as the storage worker runs them: the second batch's COPY runs while the first is
    /// held open, and its ledger step waits for the first write; the sums of both, gathered as one run per partition, are
    /// written on a third after both. A batch of malformed messages only (no event) still
    /// moves the ledger, so they are not read as unstored again.
    /// </summary>
    [Fact]
    public async Task WriteAsync_SecondWriterAfterFirst_LedgerMovesInBatchOrder_AndABatchWithoutEventsMovesItToo()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        await using var first = await db.OpenConnectionAsync();
        await using var second = await db.OpenConnectionAsync();
        var all = Events(400);
        var release = new TaskCompletionSource();
        var held = release.Task.ContinueWith(_ => { }, TaskScheduler.Default);

        await using var third = await db.OpenConnectionAsync();
        var sums = new MinuteSums();
        var (batchOne, batchTwo) = (Batch(all[..200]), Batch(all[200..]));
        sums.Add(batchOne);
        sums.Add(batchTwo);
        Assert.All(sums.Partitions.Values, p => Assert.Equal((0L, 200L), (p.First, p.Next))); // the two batches' sums as one run per partition

        var one = new EventWriter(first).WriteAsync(batchOne, "events", held, CancellationToken.None);
        var two = new EventWriter(second).WriteAsync(batchTwo, "events", one, CancellationToken.None);
        var summed = new EventWriter(third).WriteSumsAsync(sums, "events", two, CancellationToken.None);
        await Task.Delay(300);
        Assert.False(two.IsCompleted, "the second write waits for the first");
        Assert.False(summed.IsCompleted, "the sums wait for the writes of the batches they sum");
        release.SetResult();
        Assert.Equal(new EventWriteResult(EventWritePath.Direct, 200, 0), await one);
        Assert.Equal(new EventWriteResult(EventWritePath.Direct, 200, 0), await two);
        Assert.Equal(0, (await summed).Recounted);
        await AssertStoredExactlyAsync(db, all);
        await AssertLedgerAsync(db, all);

        var malformed = new EventBatch();
        malformed.MarkConsumed(0, 400, "{not json"u8.ToArray());
        Assert.Equal(new EventWriteResult(EventWritePath.Direct, 0, 0), await new EventWriter(first).WriteAsync(malformed, "events", Task.CompletedTask, CancellationToken.None));
        await using var next = db.CreateCommand("SELECT next_offset, last_fingerprint FROM event_offsets WHERE topic = 'events' AND partition = 0");
        await using var reader = await next.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(401L, reader.GetInt64(0));
        Assert.Equal(MessageFingerprint.Of("{not json"u8.ToArray()), reader.GetInt64(1));
    }

    /// <summary>
    /// A rebalance's overlap, on both partitions: member A stored offsets 0-99 and wrote the sums of 0-49 (the offset it
    /// committed); B, reading from 50, stores 100-149 and gathers 50-149, while A writes the sums of 50-99 late. B's sums
    /// of 100-149 are then recounted from the stored events, a zombie's sums of 0-99 are left out, and a batch read again
    /// (not where the partition's run ended) starts its run anew: after each, every event is counted once. A run without
    /// events across the ledger's position moves it without counting.
    /// </summary>
    [Fact]
    public async Task WriteSumsAsync_MembersOverlapInARebalance_EachEventCountedOnce_TheOverlapRecountedFromTheStoredEvents()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        await using var a = await db.OpenConnectionAsync();
        await using var b = await db.OpenConnectionAsync();
        var (memberA, memberB) = (new EventWriter(a), new EventWriter(b));
        var all = Events(400); // offsets 0-199 on each of the two partitions

        Assert.Equal(EventWritePath.Direct, (await WriteAsync(memberA, all[..100])).Path);
        var lateSums = new MinuteSums();
        var second = Batch(all[100..200]);
        lateSums.Add(second);
        Assert.Equal(new EventWriteResult(EventWritePath.Direct, 100, 0), await memberA.WriteAsync(second, "events", Task.CompletedTask, CancellationToken.None));

        var sumsB = new MinuteSums();
        var reread = Batch(all[100..300]);
        sumsB.Add(reread);
        Assert.Equal(new EventWriteResult(EventWritePath.Filtered, 100, 100), await memberB.WriteAsync(reread, "events", Task.CompletedTask, CancellationToken.None));
        var late = await memberA.WriteSumsAsync(lateSums, "events", Task.CompletedTask, CancellationToken.None);
        Assert.True(late is { Rows: > 0, Recounted: 0 }, $"A's late sums are taken as they are: {late}");
        var (_, recounted) = await memberB.WriteSumsAsync(sumsB, "events", Task.CompletedTask, CancellationToken.None);
        Assert.Equal(2, recounted);
        await AssertStoredExactlyAsync(db, all[..300]);
        await AssertLedgerAsync(db, all[..300]);

        // A zombie's sums of messages counted already: nothing written, nothing moved back.
        var zombie = new MinuteSums();
        zombie.Add(Batch(all[..200]));
        Assert.Equal((0, 0), await memberA.WriteSumsAsync(zombie, "events", Task.CompletedTask, CancellationToken.None));
        await AssertStoredExactlyAsync(db, all[..300]);
        await AssertLedgerAsync(db, all[..300]);

        // B goes on with 150-199, then is put back at 100 and reads 100-199 again: its run restarts at 100.
        var sums = new MinuteSums();
        var next = Batch(all[300..]);
        sums.Add(next);
        Assert.Equal(EventWritePath.Direct, (await memberB.WriteAsync(next, "events", Task.CompletedTask, CancellationToken.None)).Path);
        var again = Batch(all[200..]);
        sums.Add(again);
        Assert.All(sums.Partitions.Values, p => Assert.Equal((100L, 200L), (p.First, p.Next)));
        Assert.Equal(EventWritePath.Filtered, (await memberB.WriteAsync(again, "events", Task.CompletedTask, CancellationToken.None)).Path);
        Assert.Equal(2, (await memberB.WriteSumsAsync(sums, "events", Task.CompletedTask, CancellationToken.None)).Recounted);
        await AssertStoredExactlyAsync(db, all);
        await AssertLedgerAsync(db, all);

        // A run of malformed messages only (199-201 of partition 0) across where the sums stand: nothing to count again,
        // and the sums ledger moves past it.
        var malformed = new EventBatch();
        foreach (var offset in (long[])[199, 200, 201])
        {
            malformed.MarkConsumed(0, offset, "{not json"u8.ToArray());
        }

        var noEvents = new MinuteSums();
        noEvents.Add(malformed);
        await memberB.WriteAsync(malformed, "events", Task.CompletedTask, CancellationToken.None);
        Assert.Equal((0, 0), await memberB.WriteSumsAsync(noEvents, "events", Task.CompletedTask, CancellationToken.None));
        await AssertStoredExactlyAsync(db, all);
        await using var summed = db.CreateCommand("SELECT summed_offset FROM event_offsets WHERE topic = 'events' AND partition = 0");
        Assert.Equal(202L, (long)(await summed.ExecuteScalarAsync())!);
    }

    /// <summary>
    /// Two writers append minute sums while two folders (as two detector processes would) move them: at every
    /// read, and after the last fold, each event is counted once, and nothing is left pending.
    /// </summary>
    [Fact]
    public async Task FoldMinutesAsync_ConcurrentWithWritersAndAnotherFold_KeepsEveryMinuteExact()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        var all = Events(2_000);
        var halves = new[] { all.Where(e => e.Partition == 0).ToArray(), all.Where(e => e.Partition == 1).ToArray() };
        using var writing = new CancellationTokenSource();
        var folds = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            await using var connection = await db.OpenConnectionAsync();
            long moved = 0;
            while (!writing.IsCancellationRequested)
            {
                moved += (await EventWriter.FoldMinutesAsync(connection, CancellationToken.None)).Moved;
            }

            return moved;
        })).ToList();
        await Task.WhenAll(halves.Select(async half =>
        {
            await using var connection = await db.OpenConnectionAsync();
            var writer = new EventWriter(connection);
            foreach (var chunk in half.Chunk(50))
            {
                Assert.Equal(EventWritePath.Direct, (await WriteAsync(writer, chunk)).Path);
            }
        }));
        await writing.CancelAsync();
        var movedByFolds = (await Task.WhenAll(folds)).Sum();

        Assert.True(movedByFolds > 0, "the folds ran while the writers wrote");
        await AssertStoredExactlyAsync(db, all);
        await using var last = await db.OpenConnectionAsync();
        await FoldAndAssertAsync(last, db, all);
    }

    /// <summary>A batch goes in in the order of the (service, ts) index, whatever order it was read in.</summary>
    [Fact]
    public async Task WriteAsync_ShuffledBatch_RowsGoInByServiceThenTime()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        await using var connection = await db.OpenConnectionAsync();
        var beforeMidnight = Events(120); // 23:58:00 to 23:59:59: one daily partition
        var shuffled = beforeMidnight.OrderBy(_ => Random.Shared.Next()).ToArray();
        Assert.Equal(EventWritePath.Direct, (await WriteAsync(new EventWriter(connection), shuffled)).Path);

        await AssertStoredExactlyAsync(db, beforeMidnight);
        var stored = new List<(string Service, DateTime Ts)>();
        await using var cmd = db.CreateCommand("SELECT service, ts FROM events_20261130 ORDER BY ctid");
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            stored.Add((reader.GetString(0), reader.GetDateTime(1)));
        }

        Assert.Equal(beforeMidnight.Select(e => (e.Event.Service, e.Event.Timestamp.UtcDateTime)).OrderBy(r => r.Service, StringComparer.Ordinal).ThenBy(r => r.UtcDateTime), stored);
    }

    /// <summary>
    /// The (service, ts) index is BRIN: the ranges rows filled are summarized once, in both daily partitions, and a
    /// lookup of one service's minutes goes through the index and finds exactly its rows.
    /// </summary>
    [Fact]
    public async Task SummarizeNewRangesAsync_AfterWrites_SummarizesOnce_AndServiceLookupsUseTheIndex()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        await using var connection = await db.OpenConnectionAsync();
        var events = Events(6000); // 23:58:00 to 01:37:59: two daily partitions
        await WriteAsync(new EventWriter(connection), events);

        Assert.True(await EventWriter.SummarizeNewRangesAsync(connection, CancellationToken.None) >= 2, "a range or more in each partition");
        Assert.Equal(0L, await EventWriter.SummarizeNewRangesAsync(connection, CancellationToken.None));

        var from = Start.AddMinutes(1);
        var to = Start.AddMinutes(4); // across midnight
        var expected = events.Count(e => e.Event.Service == "svc-3" && e.Event.Timestamp >= from && e.Event.Timestamp < to);
        await using var tx = await connection.BeginTransactionAsync();
        await using (var noScan = new NpgsqlCommand("SET LOCAL enable_seqscan = off", connection, tx))
        {
            await noScan.ExecuteNonQueryAsync();
        }

        const string Lookup = "SELECT count(*) FROM events WHERE service = 'svc-3' AND ts >= @from AND ts < @to";
        await using var explain = new NpgsqlCommand("EXPLAIN " + Lookup, connection, tx) { Parameters = { new("from", from), new("to", to) } };
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(0));
            }
        }

        Assert.Equal(2, plan.Count(line => line.Contains("Bitmap Index Scan on events_2026113", StringComparison.Ordinal) || line.Contains("Bitmap Index Scan on events_2026120", StringComparison.Ordinal)));
        await using var count = new NpgsqlCommand(Lookup, connection, tx) { Parameters = { new("from", from), new("to", to) } };
        Assert.Equal((long)expected, (long)(await count.ExecuteScalarAsync())!);
        Assert.True(expected > 0);
    }

    /// <summary>Rows are encoded into 64 KiB chunks: one longer than a chunk, between short ones, is stored whole.</summary>
    [Fact]
    public async Task WriteAsync_RowLongerThanACopyChunk_IsStoredWhole()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        await using var connection = await db.OpenConnectionAsync();
        var events = Events(3000);
        var longMessage = string.Concat(Enumerable.Repeat("é-long-", 20_000)); // 160,000 bytes of UTF-8
        events[1500] = (events[1500].Event with { Message = longMessage }, events[1500].Partition, events[1500].Offset);
        Assert.Equal(EventWritePath.Direct, (await WriteAsync(new EventWriter(connection), events)).Path);

        await AssertStoredExactlyAsync(db, events);
        await using var cmd = db.CreateCommand("SELECT count(*) FILTER (WHERE message = 'm'), max(length(message)) FROM events");
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(2999L, reader.GetInt64(0));
        Assert.Equal(longMessage.Length, reader.GetInt32(1));
    }

    /// <summary>The text columns arrive as written, from both ways into a batch: the fast reader's and the parser's.</summary>
    [Fact]
    public async Task WriteAsync_TextColumns_AreStoredAsTheEventCarriedThem()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        await using var connection = await db.OpenConnectionAsync();
        const string Json = """{"timestamp":"2026-03-02T08:00:01.123456Z","service":"café","level":"ERROR","message":"line\nbreak \"q\" é","trace_id":"t1","metadata":{"endpoint":"/x","latency_ms":12.5,"deep":{"k":[1,"é"]}}}""";
        var bytes = System.Text.Encoding.UTF8.GetBytes(Json);
        var batch = new EventBatch();
        Assert.True(new EventFieldsReader().TryReadRow(bytes, batch.Text, out var fields, out var text));
        batch.Add(fields, text, 0, 1);
        Assert.True(EventParser.TryParse(bytes, out var parsed, out _));
        batch.Add(parsed!, 0, 2);
        batch.MarkConsumed(0, 2, bytes);
        Assert.Equal(EventWritePath.Direct, (await WriteWithSumsAsync(new EventWriter(connection), batch)).Path);

        await using var cmd = db.CreateCommand(
            "SELECT service, message, trace_id, span_id, metadata->>'endpoint', metadata->'deep'->'k'->>1, latency_ms, ts, level, endpoint, kafka_partition, kafka_offset, metadata::text FROM events ORDER BY kafka_offset");
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
            Assert.Equal(new DateTime(2026, 3, 2, 8, 0, 1, 123, 456, DateTimeKind.Utc), reader.GetDateTime(7));
            Assert.Equal((short)EventLevel.Error, reader.GetInt16(8));
            Assert.Equal("/x", reader.GetString(9));
            Assert.Equal(0, reader.GetInt32(10));
            Assert.Equal(row + 1L, reader.GetInt64(11));
            Assert.Equal("""{"endpoint":"/x","latency_ms":12.5,"deep":{"k":[1,"é"]}}""", reader.GetString(12)); // json: the text as it arrived
        }
    }

    private static Task<EventWriteResult> WriteAsync(EventWriter writer, IEnumerable<(TelemetryEvent Event, int Partition, long Offset)> events, string topic = "events") =>
        WriteWithSumsAsync(writer, Batch(events), topic);

    /// <summary>Writes a batch and then its sums on the same connection, as the storage worker does with sums of one batch.</summary>
    private static async Task<EventWriteResult> WriteWithSumsAsync(EventWriter writer, EventBatch batch, string topic = "events")
    {
        var sums = new MinuteSums();
        sums.Add(batch);
        var written = await writer.WriteAsync(batch, topic, Task.CompletedTask, CancellationToken.None);
        await writer.WriteSumsAsync(sums, topic, Task.CompletedTask, CancellationToken.None);
        return written;
    }

    /// <summary>The events as read: each message marked consumed (its value stands for the message), in offset order per partition.</summary>
    private static EventBatch Batch(IEnumerable<(TelemetryEvent Event, int Partition, long Offset)> events)
    {
        var batch = new EventBatch();
        foreach (var (e, partition, offset) in events.OrderBy(e => e.Offset))
        {
            batch.Add(e, partition, offset);
            batch.MarkConsumed(partition, offset, Value(partition, offset));
        }

        return batch;
    }

    private static byte[] Value(int partition, long offset) => System.Text.Encoding.UTF8.GetBytes($"message {partition}/{offset}");

    /// <summary>Per partition, the ledger is at the offset after the last event written and fingerprints that message, and its sums are counted up to there.</summary>
    private static async Task AssertLedgerAsync(NpgsqlDataSource db, (TelemetryEvent Event, int Partition, long Offset)[] written)
    {
        var want = written.GroupBy(e => e.Partition).OrderBy(g => g.Key)
            .Select(g => (g.Key, g.Max(e => e.Offset) + 1, MessageFingerprint.Of(Value(g.Key, g.Max(e => e.Offset))), g.Max(e => e.Offset) + 1)).ToList();
        var ledger = new List<(int, long, long, long)>();
        await using var cmd = db.CreateCommand("SELECT partition, next_offset, last_fingerprint, summed_offset FROM event_offsets WHERE topic = 'events' ORDER BY partition");
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ledger.Add((reader.GetInt32(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
        }

        Assert.Equal(want, ledger);
    }

    /// <summary>
    /// Events over 5 services and 5 minutes, on 2 partitions, some errors, and a sixth service whose events have no
    /// latency (its minutes' latency_max is null).
    /// </summary>
    private static (TelemetryEvent Event, int Partition, long Offset)[] Events(int count)
    {
        var random = new Random(5);
        var metadata = JsonDocument.Parse("""{"latency_ms": 12.5, "endpoint": "/v1/x"}""").RootElement;
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            var evt = new TelemetryEvent(Start.AddSeconds(i), i % 11 == 0 ? "svc-quiet" : $"svc-{i % 5}", i % 7 == 0 ? EventLevel.Error : EventLevel.Info, "m", i % 11 == 0 ? null : metadata, null, null)
            {
                LatencyMs = i % 11 == 0 ? double.NaN : Math.Round(random.NextDouble() * 500, 3),
                Endpoint = i % 11 == 0 ? null : "/v1/x",
            };
            return (evt, i % 2, (long)(i / 2));
        })];
    }

    /// <summary>Folds the pending minute sums: the view reads the same, and every sum is now in the folded table.</summary>
    private static async Task FoldAndAssertAsync(NpgsqlConnection connection, NpgsqlDataSource db, (TelemetryEvent Event, int Partition, long Offset)[] expected)
    {
        await EventWriter.FoldMinutesAsync(connection, CancellationToken.None);
        await AssertStoredExactlyAsync(db, expected);
        await using var pending = db.CreateCommand("SELECT count(*) FROM event_minutes_pending");
        Assert.Equal(0L, (long)(await pending.ExecuteScalarAsync())!);
        await using var folded = db.CreateCommand("SELECT coalesce(sum(events), 0)::bigint FROM event_minutes_folded");
        Assert.Equal((long)expected.Length, (long)(await folded.ExecuteScalarAsync())!);
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
