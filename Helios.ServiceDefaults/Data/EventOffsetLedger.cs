using Confluent.Kafka;
using Helios.ServiceDefaults.Kafka;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Helios.ServiceDefaults.Data;

/// <summary>
/// Keeps the event ledger (<c>event_offsets</c>, see <see cref="EventWriter"/>) true to the log a storage member reads.
/// The ledger counts a partition's messages below its next offset as stored; that holds for the log it was written
/// from, not for a topic deleted and created again, or a development broker restarted while the database was kept,
/// whose offsets start anew. When partitions are assigned, <see cref="ResetStale"/> reads, for each partition whose
/// ledger lies beyond the group's committed offset (the messages it would leave out), the message before the ledger's
/// next offset, and compares it with the fingerprint stored: a log shorter than the ledger, or another message there,
/// resets the partition's row (and its sums ledger, <c>summed_offset</c>), so every message of the new log is stored
/// and counted. A committed offset at or past the ledger, or a ledger position the log no longer holds (retention),
/// leaves nothing to check: no message would be left out.
/// </summary>
public sealed class EventOffsetLedger(NpgsqlDataSource db, KafkaClientFactory kafka, string checkGroup, ILogger logger)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Checks the ledger rows of <paramref name="assigned"/> and resets the stale ones; returns the partitions reset.
    /// Runs in a rebalance handler, so it uses a consumer of its own (same group, never joining it) for the committed
    /// offsets, the watermarks and the message read.
    /// </summary>
    public IReadOnlyList<int> ResetStale(string topic, IReadOnlyCollection<TopicPartition> assigned)
    {
        var rows = ReadRows(topic, [.. assigned.Where(tp => tp.Topic == topic).Select(tp => tp.Partition.Value)]);
        if (rows.Count == 0)
        {
            return [];
        }

        using var reader = kafka.CreateConsumer<Ignore>(checkGroup, $"helios-ledger-check-{Environment.ProcessId}");
        var committed = reader.Committed([.. rows.Select(r => new TopicPartition(topic, r.Partition))], Timeout)
            .ToDictionary(c => c.Partition.Value, c => c.Offset == Offset.Unset ? -1 : c.Offset.Value);
        var reset = new List<int>();
        foreach (var (partition, next, fingerprint) in rows)
        {
            if (committed.GetValueOrDefault(partition, -1) >= next)
            {
                continue;
            }

            var tp = new TopicPartition(topic, partition);
            var watermarks = reader.QueryWatermarkOffsets(tp, Timeout);
            if (next - 1 < watermarks.Low.Value)
            {
                continue;
            }

            var reason = watermarks.High.Value < next
                ? $"the log ends at offset {watermarks.High.Value}, before the ledger's {next}"
                : FingerprintAt(reader, new TopicPartitionOffset(tp, next - 1)) != fingerprint
                    ? $"the message at offset {next - 1} is not the one the ledger stored"
                    : null;
            if (reason is null)
            {
                continue;
            }

            if (Reset(topic, partition, next, fingerprint))
            {
                logger.LogWarning(
                    "Event ledger of {Topic} [{Partition}] reset from offset {Next}: {Reason} (the topic was created anew); its messages are stored from the start",
                    topic, partition, next, reason);
                reset.Add(partition);
            }
        }

        reader.Close();
        return reset;
    }

    private List<(int Partition, long Next, long Fingerprint)> ReadRows(string topic, int[] partitions)
    {
        using var connection = db.OpenConnection();
        using var select = new NpgsqlCommand(
            "SELECT partition, next_offset, last_fingerprint FROM event_offsets WHERE topic = $1 AND partition = ANY($2) AND next_offset > 0", connection)
        {
            Parameters = { new() { Value = topic }, new() { Value = partitions } },
        };
        using var rows = select.ExecuteReader();
        var result = new List<(int, long, long)>();
        while (rows.Read())
        {
            result.Add((rows.GetInt32(0), rows.GetInt64(1), rows.GetInt64(2)));
        }

        return result;
    }

    /// <summary>Resets the row if no writer moved it meanwhile (a writer that did read the log the row now describes).</summary>
    private bool Reset(string topic, int partition, long next, long fingerprint)
    {
        using var connection = db.OpenConnection();
        using var update = new NpgsqlCommand(
            "UPDATE event_offsets SET next_offset = 0, last_fingerprint = 0, summed_offset = 0 WHERE topic = $1 AND partition = $2 AND next_offset = $3 AND last_fingerprint = $4", connection)
        {
            Parameters = { new() { Value = topic }, new() { Value = partition }, new() { Value = next }, new() { Value = fingerprint } },
        };
        return update.ExecuteNonQuery() == 1;
    }

    /// <summary>The fingerprint of the message at <paramref name="at"/>; null where the log holds none (a gap another log does not have).</summary>
    private static long? FingerprintAt(IConsumer<Ignore, byte[]> reader, TopicPartitionOffset at)
    {
        reader.Assign(at);
        try
        {
            var deadline = DateTime.UtcNow + Timeout;
            while (DateTime.UtcNow < deadline)
            {
                var message = reader.Consume(deadline - DateTime.UtcNow);
                if (message?.Message is not null && message.Offset == at.Offset)
                {
                    return MessageFingerprint.Of(message.Message.Value);
                }

                if (message is not null && message.Offset > at.Offset)
                {
                    return null; // no message at that offset (a transaction marker, or compacted away)
                }
            }
        }
        finally
        {
            reader.Unassign();
        }

        throw new InvalidOperationException($"Could not read {at} within {Timeout.TotalSeconds} s to check the event ledger; storage starts again.");
    }
}
