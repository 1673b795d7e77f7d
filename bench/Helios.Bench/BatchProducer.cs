using System.Runtime.InteropServices;
using Confluent.Kafka;
using Helios.ServiceDefaults.Kafka;

namespace Helios.Bench;

/// <summary>
/// Hands the pipeline benchmark's events to a Confluent.Kafka producer's own librdkafka in batches
/// (rd_kafka_produce_batch on a topic handle): one call, one clock reading and one topic lock per batch instead of,
/// per event, Confluent's Message object, two pinned handles, the topic name marshalled and looked up, and two clock
/// readings. librdkafka copies each event (RD_KAFKA_MSG_F_COPY) and partitions it by key with the producer's own
/// partitioner, so what reaches the broker is what <c>Produce</c> would have sent. The producer thread had been about
/// 0.45 of a core at 220,000 events/s, CPU the detector competes for on this 2-core machine.
/// </summary>
internal sealed unsafe class BatchProducer : IDisposable
{
    private const int PartitionUnassigned = -1; // RD_KAFKA_PARTITION_UA
    private const int CopyFlag = 0x2; // RD_KAFKA_MSG_F_COPY

    private readonly SafeHandle _handle;
    private readonly IntPtr _topic;
    private readonly delegate* unmanaged<IntPtr, int, int, RawMessage*, int, int> _produceBatch;
    private readonly delegate* unmanaged<IntPtr, void> _topicDestroy;
    private readonly delegate* unmanaged<int, byte*> _errorText;
    private readonly RawMessage* _messages;
    private readonly byte* _buffer;
    private readonly int _capacity;
    private readonly int _maxMessageBytes;
    private int _count;
    private int _used;
    private bool _released;
    private bool _disposed;

    public BatchProducer(IProducer<byte[], byte[]> producer, string topic, int capacity, int maxMessageBytes)
    {
        _handle = NativeLibrdkafka.HandleOf(producer);
        var library = NativeLibrdkafka.Load();
        var topicNew = (delegate* unmanaged<IntPtr, byte*, IntPtr, IntPtr>)NativeLibrary.GetExport(library, "rd_kafka_topic_new");
        _produceBatch = (delegate* unmanaged<IntPtr, int, int, RawMessage*, int, int>)NativeLibrary.GetExport(library, "rd_kafka_produce_batch");
        _topicDestroy = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(library, "rd_kafka_topic_destroy");
        _errorText = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(library, "rd_kafka_err2str");
        _capacity = capacity;
        _maxMessageBytes = maxMessageBytes;

        // The producer's handle stays referenced for this object's life (the topic handle lives in it).
        var added = false;
        _handle.DangerousAddRef(ref added);
        _released = !added;
        var name = System.Text.Encoding.UTF8.GetBytes(topic + "\0");
        fixed (byte* n = name)
        {
            // No topic configuration: the producer's own (acks, partitioner) applies.
            _topic = topicNew(_handle.DangerousGetHandle(), n, IntPtr.Zero);
        }

        if (_topic == IntPtr.Zero)
        {
            _handle.DangerousRelease();
            throw new InvalidOperationException($"librdkafka refused a handle for topic {topic}.");
        }

        _messages = (RawMessage*)NativeMemory.AllocZeroed((nuint)capacity, (nuint)sizeof(RawMessage));
        _buffer = (byte*)NativeMemory.Alloc((nuint)capacity * (nuint)maxMessageBytes);
    }

    public bool Full => _count == _capacity;

    /// <summary>Where the next message's value goes (at most the batch's message size, its key included); then <see cref="Add"/>.</summary>
    public Span<byte> NextValue => Full
        ? throw new InvalidOperationException("The batch is full: send it first.")
        : new Span<byte>(_buffer + _used, _maxMessageBytes);

    /// <summary>Adds the message whose value was written at <see cref="NextValue"/>, with its key (copied after the value).</summary>
    public void Add(int valueLength, ReadOnlySpan<byte> key)
    {
        if (valueLength + key.Length > _maxMessageBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(valueLength), $"A message of {valueLength + key.Length} bytes is longer than {_maxMessageBytes}.");
        }

        var valueAt = _buffer + _used;
        var keyAt = valueAt + valueLength;
        key.CopyTo(new Span<byte>(keyAt, key.Length));
        ref var message = ref _messages[_count++];
        message = default;
        message.Payload = valueAt;
        message.Length = (nuint)valueLength;
        message.Key = keyAt;
        message.KeyLength = (nuint)key.Length;
        _used += valueLength + key.Length;
    }

    /// <summary>
    /// Enqueues the batch in librdkafka, in order. The benchmark paces the producer far below the producer's queue limits,
    /// so a refused message is a fault, not back-pressure: it throws rather than retry out of order.
    /// </summary>
    public void Send()
    {
        if (_count == 0)
        {
            return;
        }

        var accepted = _produceBatch(_topic, PartitionUnassigned, CopyFlag, _messages, _count);
        if (accepted != _count)
        {
            var error = 0;
            for (var i = 0; i < _count && error == 0; i++)
            {
                error = _messages[i].Error;
            }

            throw new InvalidOperationException($"librdkafka accepted {accepted} of {_count} events: {Marshal.PtrToStringUTF8((IntPtr)_errorText(error))}.");
        }

        _count = 0;
        _used = 0;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_topic != IntPtr.Zero)
        {
            _topicDestroy(_topic);
        }

        NativeMemory.Free(_messages);
        NativeMemory.Free(_buffer);
        if (!_released)
        {
            _handle.DangerousRelease();
            _released = true;
        }
    }
}
