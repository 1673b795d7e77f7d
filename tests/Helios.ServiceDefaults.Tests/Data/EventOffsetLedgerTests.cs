using Confluent.Kafka;
using Helios.ServiceDefaults.Data;
using Helios.ServiceDefaults.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Helios.ServiceDefaults.Tests.Data;

[Collection(InfrastructureCollection.Name)]
public sealed class EventOffsetLedgerTests(InfrastructureFixture infra)
{
    /// <summary>
    /// Ten messages in each of four partitions, against ledger rows at offset 6 (and 50): a row whose fingerprint is the
    /// message at offset 5 is kept; one whose message differs, or that lies past the log's end, describes another log and
    /// is reset; one behind the group's committed offset leaves nothing out, so it is not read at all.
    /// </summary>
    [Fact]
    public async Task ResetStale_KeepsTheRowsOfThisLog_ResetsTheRowsOfAnother()
    {
        await using var db = await infra.NewMigratedDatabaseAsync();
        var topic = "ledger-" + Guid.NewGuid().ToString("N")[..8];
        var group = "storage-" + topic;
        infra.Kafka.CreateTopic(topic, 4);
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:kafka"] = infra.Kafka.BootstrapServers }).Build();
        var kafka = new KafkaClientFactory(config, NullLoggerFactory.Instance);
        using (var producer = kafka.CreateProducer("ledger-test"))
        {
            for (var partition = 0; partition < 4; partition++)
            {
                for (var offset = 0; offset < 10; offset++)
                {
                    await producer.ProduceAsync(new TopicPartition(topic, partition), new Message<string, byte[]> { Key = "svc", Value = Value(partition, offset) });
                }
            }
        }

        using (var committer = kafka.CreateConsumer<Ignore>(group, "ledger-test-commit"))
        {
            committer.Commit([new TopicPartitionOffset(topic, 3, 8)]);
        }

        var foreign = MessageFingerprint.Of("a message of another log"u8.ToArray());
        await InsertAsync(db, topic, (0, 6, MessageFingerprint.Of(Value(0, 5))), (1, 6, foreign), (2, 50, MessageFingerprint.Of(Value(2, 9))), (3, 6, foreign));

        var reset = new EventOffsetLedger(db, kafka, group, NullLogger.Instance).ResetStale(topic, [.. Enumerable.Range(0, 4).Select(p => new TopicPartition(topic, p))]);

        Assert.Equal([1, 2], reset.Order());
        Assert.Equal([(0, 6L, MessageFingerprint.Of(Value(0, 5))), (1, 0L, 0L), (2, 0L, 0L), (3, 6L, foreign)], await RowsAsync(db, topic));
    }

    private static byte[] Value(int partition, long offset) => System.Text.Encoding.UTF8.GetBytes($"{{\"partition\":{partition},\"offset\":{offset}}}");

    private static async Task InsertAsync(NpgsqlDataSource db, string topic, params (int Partition, long Next, long Fingerprint)[] rows)
    {
        foreach (var (partition, next, fingerprint) in rows)
        {
            await using var insert = db.CreateCommand("INSERT INTO event_offsets VALUES ($1, $2, $3, $4)");
            insert.Parameters.Add(new() { Value = topic });
            insert.Parameters.Add(new() { Value = partition });
            insert.Parameters.Add(new() { Value = next });
            insert.Parameters.Add(new() { Value = fingerprint });
            await insert.ExecuteNonQueryAsync();
        }
    }

    private static async Task<List<(int, long, long)>> RowsAsync(NpgsqlDataSource db, string topic)
    {
        await using var select = db.CreateCommand("SELECT partition, next_offset, last_fingerprint FROM event_offsets WHERE topic = $1 ORDER BY partition");
        select.Parameters.Add(new() { Value = topic });
        await using var reader = await select.ExecuteReaderAsync();
        var rows = new List<(int, long, long)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetInt32(0), reader.GetInt64(1), reader.GetInt64(2)));
        }

        return rows;
    }
}
