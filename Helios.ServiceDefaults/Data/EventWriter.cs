using System.Runtime.InteropServices;
using Helios.Core.Events;
using Npgsql;
using NpgsqlTypes;

namespace Helios.ServiceDefaults.Data;

/// <summary>An accepted event's columns (its text in the batch's <see cref="Utf8Arena"/>) and where it was read (partition and offset are its key in <c>events</c>).</summary>
public readonly record struct StoredEvent(EventFields Event, EventTextRange Text, int Partition, long Offset);

/// <summary>A batch of events to store: their columns, and their text as UTF-8 in one reusable buffer.</summary>
public sealed class EventBatch(int capacity = 20_000)
{
    public List<StoredEvent> Events { get; } = new(capacity);

    public Utf8Arena Text { get; } = new();

    public int Count => Events.Count;

    public void Add(EventFields evt, EventTextRange text, int partition, long offset) => Events.Add(new StoredEvent(evt, text, partition, offset));

    /// <summary>An event the parser read (the fast reader left it to the parser).</summary>
    public void Add(TelemetryEvent e, int partition, long offset) =>
        Add(EventFields.From(e), new EventTextRange(Text.Append(e.Message), Text.Append(e.TraceId), Text.Append(e.SpanId), Text.Append(e.Metadata?.GetRawText())), partition, offset);

    public void Clear()
    {
        Events.Clear();
        Text.Clear();
    }
}

/// <summary>How a batch reached <c>events</c>.</summary>
public enum EventWritePath
{
    /// <summary>Binary COPY straight into <c>events</c>, the minutes added from the batch itself.</summary>
    Direct,

    /// <summary>Through the staging table: only rows not stored yet are inserted and counted.</summary>
    Staging,
}

/// <summary>
/// Writes batches of events into <c>events</c> and keeps <c>event_minutes</c> exact, on one connection
/// and one transaction per batch. A batch of fresh events (the usual case) is copied straight into
/// <c>events</c> and its per-minute aggregates are summed here and upserted; a batch that overlaps rows
/// already stored (re-read after a crash or a rebalance) fails on the key (partition, offset, ts), is
/// rolled back, and is written again through a staging table with ON CONFLICT DO NOTHING, which adds
/// the inserted rows alone to the aggregates. Either way each event is stored and counted once.
/// </summary>
public sealed class EventWriter(NpgsqlConnection connection)
{
    private const string Columns = "ts, service, level, message, latency_ms, endpoint, trace_id, span_id, metadata, kafka_partition, kafka_offset";
    private readonly HashSet<DateOnly> _partitions = [];
    private bool? _partitioned;
    private bool _staging;

    /// <summary>Writes one batch; returns which path stored it.</summary>
    public async Task<EventWritePath> WriteAsync(EventBatch batch, CancellationToken ct)
    {
        if (batch.Count == 0)
        {
            return EventWritePath.Direct;
        }

        await EnsurePartitionsAsync(batch, ct);
        await using (var tx = await connection.BeginTransactionAsync(ct))
        {
            try
            {
                await CopyAsync("events", batch, ct);
                await AddMinutesAsync(batch, tx, ct);
                await tx.CommitAsync(ct);
                return EventWritePath.Direct;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation)
            {
                await tx.RollbackAsync(ct);
            }
        }

        await WriteThroughStagingAsync(batch, ct);
        return EventWritePath.Staging;
    }

    private async Task WriteThroughStagingAsync(EventBatch batch, CancellationToken ct)
    {
        if (!_staging)
        {
            await using var create = new NpgsqlCommand("CREATE TEMP TABLE IF NOT EXISTS events_staging (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", connection);
            await create.ExecuteNonQueryAsync(ct);
            _staging = true;
        }

        await using var tx = await connection.BeginTransactionAsync(ct);
        await CopyAsync("events_staging", batch, ct);
        await using (var insert = new NpgsqlCommand(
            """
            WITH inserted AS (
                INSERT INTO events SELECT * FROM events_staging
                ON CONFLICT DO NOTHING
                RETURNING service, ts, level, latency_ms)
            INSERT INTO event_minutes AS m (service, minute, events, errors, latency_count, latency_sum, latency_max)
            SELECT service, date_trunc('minute', ts), count(*), count(*) FILTER (WHERE level >= 3),
                   count(latency_ms), coalesce(sum(latency_ms), 0), max(latency_ms)
            FROM inserted GROUP BY service, date_trunc('minute', ts)
            ORDER BY 1, 2
            ON CONFLICT (service, minute) DO UPDATE SET
                events = m.events + EXCLUDED.events, errors = m.errors + EXCLUDED.errors,
                latency_count = m.latency_count + EXCLUDED.latency_count, latency_sum = m.latency_sum + EXCLUDED.latency_sum,
                latency_max = greatest(m.latency_max, EXCLUDED.latency_max)
            """, connection, tx))
        {
            await insert.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
    }

    private async Task CopyAsync(string table, EventBatch batch, CancellationToken ct)
    {
        await using var copy = await connection.BeginBinaryImportAsync($"COPY {table} ({Columns}) FROM STDIN (FORMAT BINARY)", ct);
        var arena = batch.Text;
        foreach (var (e, text, partition, offset) in batch.Events)
        {
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(e.Timestamp, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(e.Service, NpgsqlDbType.Text, ct);
            await copy.WriteAsync((short)e.Level, NpgsqlDbType.Smallint, ct);
            await copy.WriteAsync(arena.Memory(text.Message), NpgsqlDbType.Text, ct);
            if (double.IsNaN(e.LatencyMs))
            {
                await copy.WriteNullAsync(ct);
            }
            else
            {
                await copy.WriteAsync(e.LatencyMs, NpgsqlDbType.Double, ct);
            }

            await (e.Endpoint is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(e.Endpoint, NpgsqlDbType.Text, ct));
            await WriteNullableAsync(copy, arena, text.TraceId, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(copy, arena, text.SpanId, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(copy, arena, text.MetadataJson, NpgsqlDbType.Jsonb, ct);
            await copy.WriteAsync(partition, NpgsqlDbType.Integer, ct);
            await copy.WriteAsync(offset, NpgsqlDbType.Bigint, ct);
        }

        await copy.CompleteAsync(ct);
    }

    /// <summary>
    /// Adds the batch's per-service, per-minute counts to <c>event_minutes</c> (only for a batch that was
    /// inserted whole), as the staging path's SQL would: events, errors (level ERROR and above), latencies
    /// counted, summed and their maximum. Rows go in key order, so concurrent writers lock them in the same order.
    /// </summary>
    private async Task AddMinutesAsync(EventBatch batch, NpgsqlTransaction tx, CancellationToken ct)
    {
        var minutes = new Dictionary<(string Service, long Minute), Minute>();
        foreach (var (e, _, _, _) in batch.Events)
        {
            var ticks = e.TimestampTicks;
            ref var m = ref CollectionsMarshal.GetValueRefOrAddDefault(minutes, (e.Service, ticks - (ticks % TimeSpan.TicksPerMinute)), out _);
            m.Events++;
            if (e.Level >= EventLevel.Error)
            {
                m.Errors++;
            }

            if (!double.IsNaN(e.LatencyMs))
            {
                m.LatencyMax = m.LatencyCount == 0 ? e.LatencyMs : Math.Max(m.LatencyMax, e.LatencyMs);
                m.LatencyCount++;
                m.LatencySum += e.LatencyMs;
            }
        }

        var keys = minutes.Keys.ToArray();
        Array.Sort(keys, (a, b) => string.CompareOrdinal(a.Service, b.Service) is var c and not 0 ? c : a.Minute.CompareTo(b.Minute));
        var services = new string[keys.Length];
        var starts = new DateTime[keys.Length];
        var events = new long[keys.Length];
        var errors = new long[keys.Length];
        var latencyCounts = new long[keys.Length];
        var latencySums = new double[keys.Length];
        var latencyMaxes = new double?[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            var m = minutes[keys[i]];
            services[i] = keys[i].Service;
            starts[i] = new DateTime(keys[i].Minute, DateTimeKind.Utc);
            events[i] = m.Events;
            errors[i] = m.Errors;
            latencyCounts[i] = m.LatencyCount;
            latencySums[i] = m.LatencySum;
            latencyMaxes[i] = m.LatencyCount == 0 ? null : m.LatencyMax;
        }

        await using var upsert = new NpgsqlCommand(
            """
            INSERT INTO event_minutes AS m (service, minute, events, errors, latency_count, latency_sum, latency_max)
            SELECT * FROM unnest(@services, @minutes, @events, @errors, @latency_counts, @latency_sums, @latency_maxes)
            ON CONFLICT (service, minute) DO UPDATE SET
                events = m.events + EXCLUDED.events, errors = m.errors + EXCLUDED.errors,
                latency_count = m.latency_count + EXCLUDED.latency_count, latency_sum = m.latency_sum + EXCLUDED.latency_sum,
                latency_max = greatest(m.latency_max, EXCLUDED.latency_max)
            """, connection, tx);
        upsert.Parameters.Add(new NpgsqlParameter<string[]>("services", services));
        upsert.Parameters.Add(new NpgsqlParameter<DateTime[]>("minutes", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz) { TypedValue = starts });
        upsert.Parameters.Add(new NpgsqlParameter<long[]>("events", events));
        upsert.Parameters.Add(new NpgsqlParameter<long[]>("errors", errors));
        upsert.Parameters.Add(new NpgsqlParameter<long[]>("latency_counts", latencyCounts));
        upsert.Parameters.Add(new NpgsqlParameter<double[]>("latency_sums", latencySums));
        upsert.Parameters.Add(new NpgsqlParameter<double?[]>("latency_maxes", NpgsqlDbType.Array | NpgsqlDbType.Double) { TypedValue = latencyMaxes });
        await upsert.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Without TimescaleDB, events live in daily range partitions, created here as days arrive.</summary>
    private async Task EnsurePartitionsAsync(EventBatch batch, CancellationToken ct)
    {
        if (_partitioned is null)
        {
            await using var kind = new NpgsqlCommand("SELECT relkind = 'p' FROM pg_class WHERE oid = 'events'::regclass", connection);
            _partitioned = (bool)(await kind.ExecuteScalarAsync(ct))!;
        }

        if (_partitioned is not true)
        {
            return;
        }

        foreach (var day in batch.Events.Select(b => DateOnly.FromDateTime(new DateTime(b.Event.TimestampTicks, DateTimeKind.Utc))).Distinct().Where(d => !_partitions.Contains(d)).ToList())
        {
            var from = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            await using var create = new NpgsqlCommand(
                $"CREATE TABLE IF NOT EXISTS events_{day:yyyyMMdd} PARTITION OF events FOR VALUES FROM ('{from:yyyy-MM-dd}') TO ('{from.AddDays(1):yyyy-MM-dd}')", connection);
            try
            {
                await create.ExecuteNonQueryAsync(ct);
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.DuplicateTable or PostgresErrorCodes.UniqueViolation)
            {
                // Another writer created it at the same moment.
            }

            _partitions.Add(day);
        }
    }

    /// <summary>Text as the UTF-8 it already is (the binary form of text and of jsonb's text).</summary>
    private static Task WriteNullableAsync(NpgsqlBinaryImporter copy, Utf8Arena arena, Utf8Range value, NpgsqlDbType type, CancellationToken ct) =>
        value.IsNull ? copy.WriteNullAsync(ct) : copy.WriteAsync(arena.Memory(value), type, ct);

    private struct Minute
    {
        public long Events;
        public long Errors;
        public long LatencyCount;
        public double LatencySum;
        public double LatencyMax;
    }
}
