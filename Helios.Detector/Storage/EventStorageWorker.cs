using System.Diagnostics;
using System.Runtime.ExceptionServices;
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
/// independently, and neither waits for the other. Each batch and the event ledger's move past it are written in one
/// transaction by <see cref="EventWriter"/>; the batches' per-minute sums are gathered over about a second and written
/// in one more with the sums ledger's move (<see cref="EventWriter.WriteSumsAsync"/>). Offsets are committed after
/// both, so a crash re-reads what came after, and the ledgers leave out what was stored and counted: no row or count
/// twice. The ledger of newly assigned partitions is checked against the log first (<see cref="EventOffsetLedger"/>).
/// The next batch is consumed and parsed while one is being written. Malformed events are the detector's to
/// dead-letter; here they are counted and skipped.
/// </summary>
public sealed class EventStorageWorker(
    KafkaClientFactory kafka,
    SchemaInitializer schema,
    NpgsqlDataSource db,
    StorageMetrics metrics,
    IOptions<KafkaTopicsOptions> topicOptions,
    IConfiguration configuration,
    ILogger<EventStorageWorker> logger) : BackgroundService
{
    private const int MaxBatch = 20_000;

    /// <summary>Batches written at once, each on its own connection.</summary>
    private const int Writers = 2;
    private static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(200);
    private readonly KafkaTopicsOptions _topics = topicOptions.Value;
    private readonly TimeSpan _sumEvery = PositiveSeconds(configuration, "Helios:Storage:SumSeconds", 1);
    private bool _assigned; // set by the assignment handler, which runs inside a poll
    private readonly IntPtr[] _polled = new IntPtr[RawConsumer.Batch];

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => RunAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task RunAsync(CancellationToken ct)
    {
        await schema.Ready.WaitAsync(ct);
        var ledger = new EventOffsetLedger(db, kafka, _topics.StorageGroup, logger);

        // Only the value, partition and offset are read: no key, topic name, timestamp or headers marshalled per message.
        using var consumer = kafka.CreateConsumer<Ignore>(_topics.StorageGroup, $"helios-storage-{Environment.ProcessId}", c =>
        {
            c.ConsumeResultFields = "none";
            // An eighth of librdkafka's default prefetch, about 250 ms of events at 100,000 a second: this loop's batches are
            // the next 20,000 events anyway, and a full queue is fetched again after 10 ms (fetch.queue.backoff.ms; on
            // librdkafka 2.0.2, which waited a second, 8 MiB gave 42,300 rows/s). `bench -- pipeline`: 161,770 rows/s storing
            // alone, and with both paths on peak RSS 296.5 and 297.3 MB (316.4 with this at 16 MiB and detection's at 64).
            c.QueuedMaxMessagesKbytes = 8 * 1024;
        }, b => b.SetPartitionsAssignedHandler((_, assigned) =>
        {
            _assigned = true;
            metrics.LedgerResets.Add(ledger.ResetStale(_topics.EventsTopic, assigned).Count);
        }));
        consumer.Subscribe(_topics.EventsTopic);
        logger.LogInformation("Event storage consuming {Topic} as group {Group}", _topics.EventsTopic, _topics.StorageGroup);
        var connections = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i <= Writers; i++)
            {
                connections.Add(await db.OpenConnectionAsync(ct));
            }

            await ConsumeAndWriteAsync(consumer, [.. connections.Skip(1).Select(c => new EventWriter(c))], new EventWriter(connections[0]), ct);
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
    /// connection (their COPYs run at once; each moves the ledger after the write before it). The batches' per-minute sums
    /// are kept here (<see cref="MinuteSums"/>) and written together every <c>Helios:Storage:SumSeconds</c> on a connection
    /// of their own, after the writes of the batches they sum; offsets are committed once they are: everything below them,
    /// events and sums, is durable.
    /// </summary>
    private async Task ConsumeAndWriteAsync(IConsumer<Ignore, byte[]> consumer, EventWriter[] writers, EventWriter sumsWriter, CancellationToken ct)
    {
        using var raw = RawConsumer.For(consumer); // its queue reference goes before the consumer closes
        var reader = new EventFieldsReader();
        var idle = new Queue<EventWriter>(writers);
        var inFlight = new Queue<(Task Write, EventWriter Writer, EventBatch Batch)>();
        var spare = new Stack<EventBatch>(Enumerable.Range(0, writers.Length).Select(_ => new EventBatch(MaxBatch)));
        var batch = new EventBatch(MaxBatch);
        var previous = Task.CompletedTask;
        var sums = new MinuteSums();
        var spareSums = new MinuteSums();
        (Task Write, MinuteSums Sums)? summing = null;
        var sinceSums = Stopwatch.StartNew();
        while (!ct.IsCancellationRequested)
        {
            Fill(raw, batch, reader);

            // Finished writes hand back their writer and batch, oldest first; with every writer busy and a batch
            // ready, the oldest write is waited for.
            while (inFlight.TryPeek(out var oldest) && (oldest.Write.IsCompleted || (idle.Count == 0 && batch.Consumed.Count > 0)))
            {
                inFlight.Dequeue();
                await oldest.Write;
                oldest.Batch.Clear();
                spare.Push(oldest.Batch);
                idle.Enqueue(oldest.Writer);
            }

            if (summing is { Write.IsCompleted: true } written)
            {
                await written.Write;
                Commit(consumer, written.Sums);
                written.Sums.Clear();
                (spareSums, summing) = (written.Sums, null);
            }

            if (batch.Consumed.Count > 0)
            {
                sums.Add(batch); // before the write sorts the batch
                var writer = idle.Dequeue();
                previous = WriteAndCountAsync(writer, batch, previous, ct);
                inFlight.Enqueue((previous, writer, batch));
                batch = spare.Pop();
            }

            // One write of sums at a time: a slow one lets the next gather more.
            if (summing is null && sums.Partitions.Count > 0 && sinceSums.Elapsed >= _sumEvery)
            {
                summing = (WriteSumsAndCountAsync(sumsWriter, sums, previous, ct), sums);
                (sums, spareSums) = (spareSums!, null);
                sinceSums.Restart();
            }
        }

        while (inFlight.TryDequeue(out var write))
        {
            await write.Write;
        }

        if (summing is { } last)
        {
            await last.Write;
            Commit(consumer, last.Sums);
        }

        // Stopping: the sums read since, so that the next start does not read their batches again.
        await WriteSumsAndCountAsync(sumsWriter, sums, previous, CancellationToken.None);
        Commit(consumer, sums);
    }

    /// <summary>
    /// Reads messages into <paramref name="batch"/> until it holds <see cref="MaxBatch"/> events, <see cref="MaxWait"/> has
    /// passed, or the queue is empty. Messages are read in place from librdkafka (<see cref="RawConsumer"/>, as detection
    /// reads them): Confluent's Consume had made a result, a message and a copy of the value per message. What is waiting
    /// is taken up to <see cref="RawConsumer.Batch"/> at a time (<see cref="RawConsumer.PollWaitingOrNext"/>); only an empty batch waits, for one.
    /// </summary>
    private unsafe void Fill(RawConsumer raw, EventBatch batch, EventFieldsReader reader)
    {
        var deadline = Stopwatch.StartNew();
        while (batch.Count < MaxBatch && deadline.Elapsed < MaxWait)
        {
            var count = raw.PollWaitingOrNext(_polled.AsSpan(0, Math.Min(_polled.Length, MaxBatch - batch.Count)),
                batch.Consumed.Count == 0 ? (int)MaxWait.TotalMilliseconds : 0);

            if (_assigned)
            {
                // What Consume does with an exception from the rebalance handler (the ledger check): rethrow it here.
                _assigned = false;
                if (raw.TakeCallbackException() is { } failure)
                {
                    raw.Destroy(_polled.AsSpan(0, count));
                    ExceptionDispatchInfo.Throw(failure);
                }
            }

            if (count == 0)
            {
                break;
            }

            var next = 0;
            try
            {
                while (next < count)
                {
                    var message = (RawMessage*)_polled[next++];
                    try
                    {
                        Read(raw, message, batch, reader);
                    }
                    finally
                    {
                        raw.Destroy(message);
                    }
                }
            }
            finally
            {
                // Only when reading failed: what it did not get to goes back to librdkafka.
                raw.Destroy(_polled.AsSpan(next, count - next));
            }
        }
    }

    /// <summary>One message into the batch: its event, or a count of the skipped; its offset marked consumed either way.</summary>
    private unsafe void Read(RawConsumer raw, RawMessage* message, EventBatch batch, EventFieldsReader reader)
    {
        if (message->Error != 0)
        {
            logger.LogWarning("Storage consume failed: {Reason}", raw.ErrorText(message->Error));
            return;
        }

        var value = message->Value;
        batch.MarkConsumed(message->Partition, message->Offset, value, message->Payload is null);
        if (reader.TryReadRow(value, batch.Text, out var fields, out var text))
        {
            batch.Add(fields, text, message->Partition, message->Offset);
        }
        else if (EventParser.TryParse(value, out var evt, out _))
        {
            // Not the plain form the fast reader is sure of: the parser decides.
            batch.Add(evt!, message->Partition, message->Offset);
        }
        else
        {
            metrics.Skipped.Add(1);
        }
    }

    /// <summary>A setting in seconds, above 0.</summary>
    internal static TimeSpan PositiveSeconds(IConfiguration configuration, string key, double fallback)
    {
        var seconds = configuration.GetValue(key, fallback);
        return seconds > 0 && double.IsFinite(seconds)
            ? TimeSpan.FromSeconds(seconds)
            : throw new InvalidOperationException($"{key} must be a number of seconds above 0, not '{seconds}'.");
    }

    private async Task WriteAndCountAsync(EventWriter writer, EventBatch batch, Task previous, CancellationToken ct)
    {
        var written = await writer.WriteAsync(batch, _topics.EventsTopic, previous, ct);
        metrics.Stored.Add(written.Stored);
        metrics.AlreadyStored.Add(written.AlreadyStored);
    }

    private async Task WriteSumsAndCountAsync(EventWriter writer, MinuteSums sums, Task previous, CancellationToken ct)
    {
        var (rows, recounted) = await writer.WriteSumsAsync(sums, _topics.EventsTopic, previous, ct);
        metrics.SumsWritten.Add(rows);
        metrics.SumsRecounted.Add(recounted);
    }

    private void Commit(IConsumer<Ignore, byte[]> consumer, MinuteSums sums)
    {
        if (sums.Partitions.Count == 0)
        {
            return;
        }

        try
        {
            consumer.Commit(sums.Partitions.Select(p => new TopicPartitionOffset(_topics.EventsTopic, p.Key, p.Value.Next)));
        }
        catch (KafkaException ex)
        {
            // A partition moved to another member meanwhile: it reads the batch again, and the ledger leaves out what this one stored.
            logger.LogDebug("Storage commit skipped: {Reason}", ex.Error.Reason);
        }
    }
}
