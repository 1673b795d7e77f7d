using System.Diagnostics;
using Confluent.Kafka;
using Helios.Core.Events;
using Helios.ServiceDefaults.Configuration;
using Helios.ServiceDefaults.Data;
using Helios.ServiceDefaults.Kafka;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Helios.Detector.Storage;

/// <summary>
/// Writes every valid event to PostgreSQL in batches with binary COPY, on its own subscription
/// (consumer group), as the predecessor's storage writer did: storage and detection progress
/// independently, and neither waits for the other. Each batch and its per-minute aggregates are written
/// in one transaction by <see cref="EventWriter"/> (straight into <c>events</c>, or through a staging
/// table when it overlaps rows already stored); offsets are committed after it, so a crash re-writes
/// a batch without duplicating a row or a count. The next batch is consumed and parsed while one is
/// being written. Malformed events are the detector's to dead-letter; here they are counted and skipped.
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

    /// <summary>Batches written at once, each on its own connection.</summary>
    private const int Writers = 2;
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(200);
    private readonly KafkaTopicsOptions _topics = topicOptions.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => RunAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task RunAsync(CancellationToken ct)
    {
        await schema.Ready.WaitAsync(ct);
        // Only the value, partition and offset are read: no key, topic name, timestamp or headers marshalled per message.
        using var consumer = kafka.CreateConsumer<Ignore>(_topics.StorageGroup, $"helios-storage-{Environment.ProcessId}", c =>
        {
            c.ConsumeResultFields = "none";
            // A quarter of librdkafka's default prefetch: this loop's batches are the next 20,000 events anyway
            // (peak RSS with both paths on 303.6 MB against 307.6-335.3 with 64 MiB, rows/s within the noise).
            c.QueuedMaxMessagesKbytes = 16 * 1024;
        });
        consumer.Subscribe(_topics.EventsTopic);
        logger.LogInformation("Event storage consuming {Topic} as group {Group}", _topics.EventsTopic, _topics.StorageGroup);
        var connections = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < Writers; i++)
            {
                connections.Add(await db.OpenConnectionAsync(ct));
            }

            await ConsumeAndWriteAsync(consumer, [.. connections.Select(c => new EventWriter(c))], ct);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }

        consumer.Close();
    }

    /// <summary>
    /// Consumes and parses the next batch while up to <see cref="Writers"/> earlier ones are written, each on its own
    /// connection (one's commit, and its WAL flush, overlaps another's COPY). Offsets are committed in batch order:
    /// a batch's once it and every batch before it are durable.
    /// </summary>
    private async Task ConsumeAndWriteAsync(IConsumer<Ignore, byte[]> consumer, EventWriter[] writers, CancellationToken ct)
    {
        var reader = new EventFieldsReader();
        var idle = new Queue<EventWriter>(writers);
        var spare = new Stack<Batch>(Enumerable.Range(0, writers.Length).Select(_ => new Batch()));
        var inFlight = new Queue<(Task Write, EventWriter Writer, Batch Batch)>();
        var batch = new Batch();
        while (!ct.IsCancellationRequested)
        {
            var deadline = Stopwatch.StartNew();
            while (batch.Events.Count < MaxBatch && deadline.Elapsed < MaxWait)
            {
                ConsumeResult<Ignore, byte[]>? message;
                try
                {
                    message = consumer.Consume(batch.Offsets.Count == 0 ? MaxWait : TimeSpan.Zero);
                }
                catch (ConsumeException ex)
                {
                    logger.LogWarning("Storage consume failed: {Reason}", ex.Error.Reason);
                    continue;
                }

                if (message?.Message is null)
                {
                    if (batch.Offsets.Count > 0 || message is null)
                    {
                        break;
                    }

                    continue;
                }

                batch.Offsets[message.Partition.Value] = message.Offset.Value + 1;
                if (reader.TryReadRow(message.Message.Value, batch.Events.Text, out var fields, out var text))
                {
                    batch.Events.Add(fields, text, message.Partition.Value, message.Offset.Value);
                }
                else if (EventParser.TryParse(message.Message.Value, out var evt, out _))
                {
                    // Not the plain form the fast reader is sure of: the parser decides.
                    batch.Events.Add(evt!, message.Partition.Value, message.Offset.Value);
                }
                else
                {
                    metrics.Skipped.Add(1);
                }
            }

            // Finished writes hand back their writer and commit their offsets, oldest first; with every writer
            // busy and a batch ready, the oldest write is waited for.
            while (inFlight.TryPeek(out var oldest) && (oldest.Write.IsCompleted || (idle.Count == 0 && batch.Offsets.Count > 0)))
            {
                inFlight.Dequeue();
                await oldest.Write;
                Commit(consumer, oldest.Batch.Offsets);
                oldest.Batch.Clear();
                spare.Push(oldest.Batch);
                idle.Enqueue(oldest.Writer);
            }

            if (batch.Offsets.Count == 0)
            {
                continue;
            }

            var writer = idle.Dequeue();
            inFlight.Enqueue((WriteAndCountAsync(writer, batch.Events, ct), writer, batch));
            batch = spare.Pop();
        }

        while (inFlight.TryDequeue(out var write))
        {
            await write.Write;
            Commit(consumer, write.Batch.Offsets);
        }
    }

    private async Task WriteAndCountAsync(EventWriter writer, EventBatch batch, CancellationToken ct)
    {
        if (batch.Count > 0)
        {
            if (await writer.WriteAsync(batch, ct) == EventWritePath.Staging)
            {
                metrics.Rewritten.Add(batch.Count);
            }

            metrics.Stored.Add(batch.Count);
        }
    }

    private void Commit(IConsumer<Ignore, byte[]> consumer, Dictionary<int, long> offsets)
    {
        try
        {
            consumer.Commit(offsets.Select(p => new TopicPartitionOffset(_topics.EventsTopic, p.Key, p.Value)));
        }
        catch (KafkaException ex)
        {
            // A partition moved to another member meanwhile: it re-writes the batch, which adds nothing (the key).
            logger.LogDebug("Storage commit skipped: {Reason}", ex.Error.Reason);
        }
    }

    /// <summary>Parsed events and, per partition, the offset after the last message consumed into them.</summary>
    private sealed class Batch
    {
        public EventBatch Events { get; } = new(MaxBatch);

        public Dictionary<int, long> Offsets { get; } = [];

        public void Clear()
        {
            Events.Clear();
            Offsets.Clear();
        }
    }
}
