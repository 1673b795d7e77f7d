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
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(200);
    private readonly KafkaTopicsOptions _topics = topicOptions.Value;

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => RunAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task RunAsync(CancellationToken ct)
    {
        await schema.Ready.WaitAsync(ct);
        // Only the value, partition and offset are read: no topic name, timestamp or headers marshalled per message.
        using var consumer = kafka.CreateConsumer(_topics.StorageGroup, $"helios-storage-{Environment.ProcessId}", c => c.ConsumeResultFields = "none");
        consumer.Subscribe(_topics.EventsTopic);
        logger.LogInformation("Event storage consuming {Topic} as group {Group}", _topics.EventsTopic, _topics.StorageGroup);
        await using var connection = await db.OpenConnectionAsync(ct);
        var writer = new EventWriter(connection);
        var reader = new EventFieldsReader();

        var batch = new List<StoredEvent>(MaxBatch);
        var writingBatch = new List<StoredEvent>(MaxBatch);
        var next = new Dictionary<int, long>();
        var written = new Dictionary<int, long>();
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

                next[message.Partition.Value] = message.Offset.Value + 1;
                if (reader.TryReadRow(message.Message.Value, out var fields, out var text))
                {
                    batch.Add(new StoredEvent(fields, text, message.Partition.Value, message.Offset.Value));
                }
                else if (EventParser.TryParse(message.Message.Value, out var evt, out _))
                {
                    // Not the plain form the fast reader is sure of: the parser decides.
                    batch.Add(StoredEvent.From(evt!, message.Partition.Value, message.Offset.Value));
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
            writing = WriteAndCountAsync(writer, writingBatch, ct);
        }

        if (writing is not null)
        {
            await writing;
            Commit(consumer, written);
        }

        consumer.Close();
    }

    private async Task WriteAndCountAsync(EventWriter writer, List<StoredEvent> batch, CancellationToken ct)
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

    private void Commit(IConsumer<string, byte[]> consumer, Dictionary<int, long> offsets)
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
}
