using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.Intrinsics.X86;
using System.Text;
using Confluent.Kafka;

namespace Helios.Bench;

/// <summary>
/// The pipeline benchmark's load generator: it writes Kafka produce requests itself (Produce v3, record batches of
/// magic 2 with their CRC-32C, acks from the partition leader) straight to each partition's leader, so the events
/// reach the development broker exactly as a client's would, at a fraction of a general client's CPU. A librdkafka
/// producer allocated, copied and freed every message on two threads (its broker thread alone took about a third of
/// a core at 250,000 events/s), CPU the detector under test competes for on this 2-core machine. Requests go one at
/// a time per leader and each waits for its acknowledgement, so once <see cref="Send"/> returns the broker holds every
/// event handed in.
/// </summary>
internal sealed class WireProducer : IDisposable
{
    private const short ProduceApi = 0;
    private const short ProduceVersion = 3;
    private const int BatchHeaderBytes = 61; // record batch v2 up to and including its record count
    private const int RecordOverhead = 23; // the most a record adds to its key and value: five varints, attributes, no headers
    private static readonly byte[] ClientId = "helios-bench-producer"u8.ToArray();

    private readonly byte[] _topic;
    private readonly Leader[] _leaders;
    private readonly int[] _leaderOf;
    private readonly byte[][] _batches;
    private readonly int[] _used;
    private readonly int[] _counts;
    private readonly byte[] _response = new byte[64 * 1024];
    private int _correlation;

    public WireProducer(string bootstrap, string topic, int partitions, int batchBytes)
    {
        _topic = Encoding.UTF8.GetBytes(topic);
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10));
        var described = metadata.Topics.Single();
        if (described.Error.IsError || described.Partitions.Count != partitions)
        {
            throw new InvalidOperationException($"Topic {topic}: {described.Error.Reason}, {described.Partitions.Count} partitions (expected {partitions}).");
        }

        var leaderIds = described.Partitions.Select(p => p.Leader).Distinct().Order().ToList();
        _leaders = [.. leaderIds.Select(id => metadata.Brokers.Single(b => b.BrokerId == id)).Select(b => new Leader(b.Host, b.Port))];
        _leaderOf = new int[partitions];
        foreach (var p in described.Partitions)
        {
            _leaderOf[p.PartitionId] = leaderIds.IndexOf(p.Leader);
        }

        _batches = [.. Enumerable.Range(0, partitions).Select(_ => new byte[batchBytes])];
        _used = new int[partitions];
        _counts = new int[partitions];
        Array.Fill(_used, BatchHeaderBytes);
    }

    public int Partitions => _batches.Length;

    /// <summary>Whether a record with this key and value still fits in the partition's batch.</summary>
    public bool Fits(int partition, int keyBytes, int valueBytes) => _used[partition] + RecordOverhead + keyBytes + valueBytes <= _batches[partition].Length;

    /// <summary>The partition librdkafka's default (consistent) partitioner gives a key: CRC-32 of the key modulo the partitions.</summary>
    public static int PartitionOf(ReadOnlySpan<byte> key, int partitions)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in key)
        {
            crc = BitwiseCrc(crc, b, 0xEDB88320u);
        }

        return (int)(~crc % (uint)partitions);
    }

    /// <summary>Appends one record (no headers, the batch's timestamp) to the partition's batch.</summary>
    public void Add(int partition, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var offsetDelta = _counts[partition];
        var bodyLength = 1 + VarintLength(0) + VarintLength(offsetDelta) + VarintLength(key.Length) + key.Length + VarintLength(value.Length) + value.Length + VarintLength(0);
        if (_used[partition] + VarintLength(bodyLength) + bodyLength > _batches[partition].Length)
        {
            throw new InvalidOperationException($"Partition {partition}'s batch is full: send first.");
        }

        var span = _batches[partition].AsSpan(_used[partition]);
        var at = WriteVarint(span, bodyLength);
        span[at++] = 0; // attributes
        at += WriteVarint(span[at..], 0); // timestamp delta
        at += WriteVarint(span[at..], offsetDelta);
        at += WriteVarint(span[at..], key.Length);
        key.CopyTo(span[at..]);
        at += key.Length;
        at += WriteVarint(span[at..], value.Length);
        value.CopyTo(span[at..]);
        at += value.Length;
        at += WriteVarint(span[at..], 0); // headers
        _used[partition] += at;
        _counts[partition]++;
    }

    /// <summary>Sends every partition's batch, one request per leader, and waits for each to be acknowledged.</summary>
    public void Send()
    {
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var leader = 0; leader < _leaders.Length; leader++)
        {
            var partitions = Enumerable.Range(0, _batches.Length).Where(p => _leaderOf[p] == leader && _counts[p] > 0).ToList();
            if (partitions.Count == 0)
            {
                continue;
            }

            var segments = new List<ArraySegment<byte>>(partitions.Count * 2 + 1);
            var headerBytes = 4 + 2 + 2 + 4 + 2 + ClientId.Length + 2 + 2 + 4 + 4 + 2 + _topic.Length + 4;
            var header = new byte[headerBytes];
            var correlation = ++_correlation;
            var total = headerBytes - 4 + partitions.Sum(p => 4 + 4 + _used[p]);
            var w = new BigEndianWriter(header);
            w.Int32(total);
            w.Int16(ProduceApi);
            w.Int16(ProduceVersion);
            w.Int32(correlation);
            w.Bytes16(ClientId);
            w.Int16(-1); // no transactional id
            w.Int16(1); // acks: the leader's
            w.Int32(30_000);
            w.Int32(1); // one topic
            w.Bytes16(_topic);
            w.Int32(partitions.Count);
            segments.Add(header);
            foreach (var p in partitions)
            {
                var prefix = new byte[8];
                BinaryPrimitives.WriteInt32BigEndian(prefix, p);
                BinaryPrimitives.WriteInt32BigEndian(prefix.AsSpan(4), _used[p]);
                SealBatch(p, timestamp);
                segments.Add(prefix);
                segments.Add(new ArraySegment<byte>(_batches[p], 0, _used[p]));
            }

            var socket = _leaders[leader].Socket;
            var sent = 0;
            while (sent < total + 4)
            {
                sent += socket.Send(sent == 0 ? segments : Remaining(segments, sent));
            }

            ReadAcknowledgement(socket, correlation, partitions);
            foreach (var p in partitions)
            {
                _used[p] = BatchHeaderBytes;
                _counts[p] = 0;
            }
        }
    }

    public void Dispose()
    {
        foreach (var leader in _leaders)
        {
            leader.Socket.Dispose();
        }
    }

    /// <summary>Fills in the record batch's header (offsets, timestamps, no producer id) and its CRC-32C.</summary>
    private void SealBatch(int partition, long timestamp)
    {
        var batch = _batches[partition].AsSpan(0, _used[partition]);
        var w = new BigEndianWriter(batch);
        w.Int64(0); // base offset (the broker assigns)
        w.Int32(batch.Length - 12);
        w.Int32(-1); // partition leader epoch
        batch[16] = 2; // magic
        w.Skip(1 + 4); // magic, then the CRC below
        w.Int16(0); // attributes: no compression, create time
        w.Int32(_counts[partition] - 1);
        w.Int64(timestamp);
        w.Int64(timestamp);
        w.Int64(-1); // producer id
        w.Int16(-1); // producer epoch
        w.Int32(-1); // base sequence
        w.Int32(_counts[partition]);
        BinaryPrimitives.WriteUInt32BigEndian(batch[17..], Crc32C(batch[21..]));
    }

    private void ReadAcknowledgement(Socket socket, int correlation, List<int> partitions)
    {
        ReadExactly(socket, _response.AsSpan(0, 4));
        var size = BinaryPrimitives.ReadInt32BigEndian(_response);
        if (size > _response.Length)
        {
            throw new InvalidOperationException($"Produce response of {size} bytes.");
        }

        ReadExactly(socket, _response.AsSpan(0, size));
        var r = new BigEndianReader(_response.AsSpan(0, size));
        if (r.Int32() != correlation)
        {
            throw new InvalidOperationException("Produce response for another request.");
        }

        var acknowledged = 0;
        for (var topics = r.Int32(); topics > 0; topics--)
        {
            r.Skip(r.Int16());
            for (var count = r.Int32(); count > 0; count--)
            {
                var partition = r.Int32();
                var error = r.Int16();
                r.Skip(8 + 8); // base offset, log append time
                if (error != 0)
                {
                    throw new InvalidOperationException($"The broker refused partition {partition}'s batch: Kafka error {error} ({(ErrorCode)error}).");
                }

                acknowledged++;
            }
        }

        if (acknowledged != partitions.Count)
        {
            throw new InvalidOperationException($"{acknowledged} of {partitions.Count} partitions acknowledged.");
        }
    }

    private static void ReadExactly(Socket socket, Span<byte> buffer)
    {
        while (buffer.Length > 0)
        {
            var read = socket.Receive(buffer);
            if (read == 0)
            {
                throw new InvalidOperationException("The broker closed the connection.");
            }

            buffer = buffer[read..];
        }
    }

    private static List<ArraySegment<byte>> Remaining(List<ArraySegment<byte>> segments, int sent)
    {
        var rest = new List<ArraySegment<byte>>();
        foreach (var segment in segments)
        {
            if (sent >= segment.Count)
            {
                sent -= segment.Count;
                continue;
            }

            rest.Add(segment.Slice(sent));
            sent = 0;
        }

        return rest;
    }

    private static int VarintLength(int value)
    {
        var v = (uint)((value << 1) ^ (value >> 31));
        var length = 1;
        while (v >= 0x80)
        {
            v >>= 7;
            length++;
        }

        return length;
    }

    /// <summary>Kafka's zigzag varint.</summary>
    private static int WriteVarint(Span<byte> destination, int value)
    {
        var v = (uint)((value << 1) ^ (value >> 31));
        var i = 0;
        while (v >= 0x80)
        {
            destination[i++] = (byte)(v | 0x80);
            v >>= 7;
        }

        destination[i++] = (byte)v;
        return i;
    }

    /// <summary>CRC-32C (Castagnoli), as record batches carry it.</summary>
    internal static uint Crc32C(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        if (Sse42.X64.IsSupported)
        {
            ulong wide = crc;
            while (data.Length >= 8)
            {
                wide = Sse42.X64.Crc32(wide, BinaryPrimitives.ReadUInt64LittleEndian(data));
                data = data[8..];
            }

            crc = (uint)wide;
        }

        foreach (var b in data)
        {
            crc = Sse42.IsSupported ? Sse42.Crc32(crc, b) : BitwiseCrc(crc, b, 0x82F63B78u);
        }

        return ~crc;
    }

    /// <summary>One byte of a reflected CRC-32 with the given polynomial (IEEE's for partitioning, Castagnoli's without SSE 4.2).</summary>
    private static uint BitwiseCrc(uint crc, byte b, uint polynomial)
    {
        crc ^= b;
        for (var k = 0; k < 8; k++)
        {
            crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1;
        }

        return crc;
    }

    private sealed class Leader(string host, int port)
    {
        public Socket Socket { get; } = Connect(host, port);

        private static Socket Connect(string host, int port)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            socket.Connect(host, port);
            return socket;
        }
    }

    private ref struct BigEndianWriter(Span<byte> buffer)
    {
        private readonly Span<byte> _buffer = buffer;
        private int _at;

        public void Int16(short value)
        {
            BinaryPrimitives.WriteInt16BigEndian(_buffer[_at..], value);
            _at += 2;
        }

        public void Int32(int value)
        {
            BinaryPrimitives.WriteInt32BigEndian(_buffer[_at..], value);
            _at += 4;
        }

        public void Int64(long value)
        {
            BinaryPrimitives.WriteInt64BigEndian(_buffer[_at..], value);
            _at += 8;
        }

        public void Bytes16(ReadOnlySpan<byte> value)
        {
            Int16((short)value.Length);
            value.CopyTo(_buffer[_at..]);
            _at += value.Length;
        }

        public void Skip(int bytes) => _at += bytes;
    }

    private ref struct BigEndianReader(ReadOnlySpan<byte> buffer)
    {
        private readonly ReadOnlySpan<byte> _buffer = buffer;
        private int _at;

        public short Int16()
        {
            var value = BinaryPrimitives.ReadInt16BigEndian(_buffer[_at..]);
            _at += 2;
            return value;
        }

        public int Int32()
        {
            var value = BinaryPrimitives.ReadInt32BigEndian(_buffer[_at..]);
            _at += 4;
            return value;
        }

        public void Skip(int bytes) => _at += bytes;
    }
}
