using System.Text;
using Confluent.Kafka;
using Helios.ServiceDefaults.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Helios.ServiceDefaults.Tests.Kafka;

/// <summary>The detector's in-place poll over a real broker: what it reads equals what was produced, and the copy equals Confluent's own result.</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class RawConsumerTests(InfrastructureFixture infra)
{
    /// <summary>The services' clients (and so what this poll reads) run on the packaged librdkafka 2.16, not on Debian's 2.0.2, which the broker keeps.</summary>
    [Fact]
    public void CreateConsumer_RunsOnThePackagedLibrdkafka()
    {
        using var consumer = Factory().CreateConsumer<Ignore>("librdkafka-test", "librdkafka-test");

        var packaged = Librdkafka.PackagedPath();
        Assert.NotNull(packaged);
        Assert.StartsWith("2.16.", Library.VersionString, StringComparison.Ordinal);
        Assert.Contains(File.ReadLines("/proc/self/maps"), line => line.EndsWith(packaged, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Poll_ProducedMessages_ReadInPlaceWithPartitionOffsetKeyValueAndTraceHeaders(bool waitingBatches)
    {
        var factory = Factory();
        var topic = "raw-" + Guid.NewGuid().ToString("N")[..6];
        infra.Kafka.CreateTopic(topic, 2);

        const string traceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        var sent = new List<(byte[] Key, byte[] Value, bool Traced)>();
        using (var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = infra.Kafka.BootstrapServers }).Build())
        {
            for (var i = 0; i < 50; i++)
            {
                var key = Encoding.UTF8.GetBytes($"service-{i % 5}");
                var value = Encoding.UTF8.GetBytes($"{{\"n\":{i},\"text\":\"{new string('x', i * 40)}\"}}");
                var traced = i % 3 == 0;
                var headers = new Headers { { "other", [7] } };
                if (traced)
                {
                    headers.Add("traceparent", Encoding.UTF8.GetBytes(traceParent));
                    headers.Add("tracestate", "vendor=1"u8.ToArray());
                }

                await producer.ProduceAsync(topic, new Message<byte[], byte[]> { Key = key, Value = value, Headers = headers });
                sent.Add((key, value, traced));
            }
        }

        using var consumer = factory.CreateConsumer<byte[]>("g-" + topic, "raw-consumer");
        consumer.Subscribe(topic);
        // This process also maps Debian's librdkafka (the broker fixture loads it by its path): resolving as Confluent's
        // DllImport does must land on a file already mapped, or For throws.
        var raw = RawConsumer.For(consumer);
        var read = new List<ConsumeResult<byte[], byte[]>>();
        var batches = new List<int>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (read.Count < sent.Count && DateTime.UtcNow < deadline)
        {
            if (waitingBatches)
            {
                // What the detector does: what is waiting, in batches smaller than the topic, else one poll that waits.
                batches.Add(ReadWaiting(raw, topic, read, new IntPtr[7]));
            }
            else
            {
                ReadOne(raw, topic, read);
            }
        }

        // The group queue's reference goes before the consumer closes, as in the detector.
        raw.Dispose();
        consumer.Close();
        if (waitingBatches)
        {
            Assert.Contains(batches, b => b > 1);
            Assert.All(batches, b => Assert.InRange(b, 0, 7));
        }

        Assert.Equal(sent.Count, read.Count);
        // Each value says which message it is; every one read once, with its key, and its partition's offsets in order.
        foreach (var message in read)
        {
            var n = int.Parse(Encoding.UTF8.GetString(message.Message.Value).Split(',')[0]["{\"n\":".Length..]);
            Assert.Equal(sent[n].Key, message.Message.Key);
            Assert.Equal(sent[n].Value, message.Message.Value);
            Assert.Equal(topic, message.Topic);
            Assert.Equal([7], message.Message.Headers.GetLastBytes("other"));
            Assert.Equal(sent[n].Traced, message.Message.Headers.TryGetLastBytes("traceparent", out _));
        }

        Assert.Equal(sent.Count, read.Select(m => Encoding.UTF8.GetString(m.Message.Value)).Distinct().Count());
        foreach (var partition in read.GroupBy(m => m.Partition.Value))
        {
            Assert.Equal(Enumerable.Range(0, partition.Count()).Select(i => (long)i), partition.Select(m => m.Offset.Value));
        }
    }

    /// <summary>Takes the messages waiting (at most the batch's length), or the next one when none is; returns how many the batch took.</summary>
    private static unsafe int ReadWaiting(RawConsumer raw, string topic, List<ConsumeResult<byte[], byte[]>> read, IntPtr[] batch)
    {
        var count = raw.PollWaitingOrNext(batch, 250);

        var next = 0;
        try
        {
            while (next < count)
            {
                Check(raw, (RawMessage*)batch[next++], topic, read);
            }
        }
        finally
        {
            // A failed check leaves the rest: they go back to librdkafka all the same, so the consumer can close.
            raw.Destroy(batch.AsSpan(next, count - next));
        }

        return count;
    }

    /// <summary>Polls one message.</summary>
    private static unsafe void ReadOne(RawConsumer raw, string topic, List<ConsumeResult<byte[], byte[]>> read)
    {
        var message = raw.Poll(250);
        if (message is not null)
        {
            Check(raw, message, topic, read);
        }
    }

    /// <summary>Checks the in-place view against the copy before the message goes back to librdkafka.</summary>
    private static unsafe void Check(RawConsumer raw, RawMessage* message, string topic, List<ConsumeResult<byte[], byte[]>> read)
    {
        try
        {
            Assert.Equal(0, message->Error);
            var copy = raw.Copy(message, topic);
            Assert.Equal(message->Partition, copy.Partition.Value);
            Assert.Equal(message->Offset, copy.Offset.Value);
            Assert.True(message->Value.SequenceEqual(copy.Message.Value));
            var traced = raw.TryGetTraceHeaders(message, out var parent, out var state);
            Assert.Equal(traced, copy.Message.Headers.TryGetLastBytes("traceparent", out _));
            if (traced)
            {
                Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", parent);
                Assert.Equal("vendor=1", state);
                Assert.NotNull(KafkaTracing.Parse(parent, state));
            }

            read.Add(copy);
        }
        finally
        {
            raw.Destroy(message);
        }
    }

    private KafkaClientFactory Factory() => new(
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:kafka"] = infra.Kafka.BootstrapServers }).Build(),
        NullLoggerFactory.Instance);
}
