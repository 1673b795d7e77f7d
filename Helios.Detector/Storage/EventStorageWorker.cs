using System.Diagnostics;
using Confluent.Kafka;
using Helios.Core.Events;
using Helios.ServiceDefaults.Configuration;
using Helios.ServiceDefaults.Data;
using Helios.ServiceDefaults.Kafka;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Helios.Detector.Storage;

/// <summary>
/// Writes every valid event to PostgreSQL in batches with binary COPY, on its own subscription
/// (consumer group), as the predecessor's storage writer did: storage and detection progress
/// independently, and neither waits for the other. A batch goes to a staging table, then into
/// <c>events</c> with ON CONFLICT DO NOTHING on (partition, offset), and the per-minute aggregates
/// grow by exactly the rows inserted, all in one transaction; offsets are committed after it, so a
/// crash re-writes a batch without duplicating a row or a count. The next batch is consumed and parsed while
/// one is being written. Malformed events are the
/// detector's to dead-letter; here they are counted and skipped.
/// </summary>
public sealed class EventStorageWorker(
    KafkaClientFactory kafka,
    SchemaInitializer schema,
    NpgsqlDataSource db,
    StorageMetrics metrics,
    IOptions<KafkaTopicsOptions> topicOptions,
    ILogger<EventStorageWorker> logger) : BackgroundService
{
    private const int MaxBatch = 20_000;
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(200);
    private readonly KafkaTopicsOptions _topics = topicOptions.Value;
    private readonly HashSet<DateOnly> _partitions = [];
    private bool? _partitioned;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => RunAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task RunAsync(CancellationToken ct)
    {
        await schema.Ready.WaitAsync(ct);
        using var consumer = kafka.CreateConsumer(_topics.StorageGroup, $"helios-storage-{Environment.ProcessId}");
        consumer.Subscribe(_topics.EventsTopic);
        logger.LogInformation("Event storage consuming {Topic} as group {Group}", _topics.EventsTopic, _topics.StorageGroup);
        await using var connection = await db.OpenConnectionAsync(ct);
        await using (var staging = new NpgsqlCommand("CREATE TEMP TABLE events_staging (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", connection))
        {
            await staging.ExecuteNonQueryAsync(ct);
        }

        var batch = new List<(TelemetryEvent Event, int Partition, long Offset)>(MaxBatch);
        var writingBatch = new List<(TelemetryEvent Event, int Partition, long Offset)>(MaxBatch);
        var next = new Dictionary<TopicPartition, long>();
        var written = new Dictionary<TopicPartition, long>();
        Task? writing = null;
        while (!ct.IsCancellationRequested)
        {
            var deadline = Stopwatch.StartNew();
            while (batch.Count < MaxBatch && deadline.Elapsed < MaxWait)
            {
                ConsumeResult<string, byte[]>? message;
                try
                {
                    message = consumer.Consume(batch.Count == 0 ? MaxWait : TimeSpan.Zero);
                }
                catch (ConsumeException ex)
                {
                    logger.LogWarning("Storage consume failed: {Reason}", ex.Error.Reason);
                    continue;
                }

                if (message?.Message is null)
                {
                    if (batch.Count > 0 || message is null)
                    {
                        break;
                    }

                    continue;
                }

                next[message.TopicPartition] = message.Offset.Value + 1;
                if (EventParser.TryParse(message.Message.Value, out var evt, out _))
                {
                    batch.Add((evt!, message.Partition.Value, message.Offset.Value));
                }
                else
                {
                    metrics.Skipped.Add(1);
                }
            }

            // The previous batch was being written while this one was consumed and parsed: once it is
            // durable its offsets are committed, and this batch's write starts.
            if (writing is not null)
            {
                await writing;
                Commit(consumer, written);
                writing = null;
            }

            if (next.Count == 0)
            {
                continue;
            }

            (batch, writingBatch) = (writingBatch, batch);
            (next, written) = (written, next);
            batch.Clear();
            next.Clear();
            writing = WriteAndCountAsync(connection, writingBatch, ct);
        }

        if (writing is not null)
        {
            await writing;
            Commit(consumer, written);
        }

        consumer.Close();
    }

    private async Task WriteAndCountAsync(NpgsqlConnection connection, List<(TelemetryEvent Event, int Partition, long Offset)> batch, CancellationToken ct)
    {
        if (batch.Count > 0)
        {
            await WriteAsync(connection, batch, ct);
            metrics.Stored.Add(batch.Count);
        }
    }

    private void Commit(IConsumer<string, byte[]> consumer, Dictionary<TopicPartition, long> offsets)
    {
        try
        {
            consumer.Commit(offsets.Select(p => new TopicPartitionOffset(p.Key, new Offset(p.Value))));
        }
        catch (KafkaException ex)
        {
            // A partition moved to another member meanwhile: it re-writes the batch, which adds nothing (the key).
            logger.LogDebug("Storage commit skipped: {Reason}", ex.Error.Reason);
        }
    }

    private async Task WriteAsync(NpgsqlConnection connection, List<(TelemetryEvent Event, int Partition, long Offset)> batch, CancellationToken ct)
    {
        await EnsurePartitionsAsync(connection, batch, ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var copy = await connection.BeginBinaryImportAsync(
            "COPY events_staging (ts, service, level, message, latency_ms, endpoint, trace_id, span_id, metadata, kafka_partition, kafka_offset) FROM STDIN (FORMAT BINARY)", ct))
        {
            foreach (var (e, partition, offset) in batch)
            {
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(e.Timestamp, NpgsqlDbType.TimestampTz, ct);
                await copy.WriteAsync(e.Service, NpgsqlDbType.Text, ct);
                await copy.WriteAsync((short)e.Level, NpgsqlDbType.Smallint, ct);
                await copy.WriteAsync(e.Message, NpgsqlDbType.Text, ct);
                if (double.IsNaN(e.LatencyMs))
                {
                    await copy.WriteNullAsync(ct);
                }
                else
                {
                    await copy.WriteAsync(e.LatencyMs, NpgsqlDbType.Double, ct);
                }

                await WriteNullableAsync(copy, e.Endpoint, NpgsqlDbType.Text, ct);
                await WriteNullableAsync(copy, e.TraceId, NpgsqlDbType.Text, ct);
                await WriteNullableAsync(copy, e.SpanId, NpgsqlDbType.Text, ct);
                await WriteNullableAsync(copy, e.Metadata?.GetRawText(), NpgsqlDbType.Jsonb, ct);
                await copy.WriteAsync(partition, NpgsqlDbType.Integer, ct);
                await copy.WriteAsync(offset, NpgsqlDbType.Bigint, ct);
            }

            await copy.CompleteAsync(ct);
        }

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

    /// <summary>Without TimescaleDB, events live in daily range partitions, created here as days arrive.</summary>
    private async Task EnsurePartitionsAsync(NpgsqlConnection connection, List<(TelemetryEvent Event, int Partition, long Offset)> batch, CancellationToken ct)
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

        foreach (var day in batch.Select(b => DateOnly.FromDateTime(b.Event.Timestamp.UtcDateTime)).Distinct().Where(d => !_partitions.Contains(d)).ToList())
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

    private static Task WriteNullableAsync(NpgsqlBinaryImporter copy, string? value, NpgsqlDbType type, CancellationToken ct) =>
        value is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(value, type, ct);
}
