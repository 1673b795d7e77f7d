using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;

namespace Helios.ServiceDefaults.Kafka;

/// <summary>librdkafka's rd_kafka_message_t, as rdkafka.h lays it out.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct RawMessage
{
    public int Error;
    public IntPtr Topic;
    public int Partition;
    public byte* Payload;
    public nuint Length;
    public byte* Key;
    public nuint KeyLength;
    public long Offset;
    public IntPtr Private;

    public readonly ReadOnlySpan<byte> Value => Payload is null ? default : new ReadOnlySpan<byte>(Payload, checked((int)Length));
}

/// <summary>
/// Polls a Confluent.Kafka consumer's own librdkafka handle and hands out librdkafka's message in place: no
/// ConsumeResult, Message, Headers or copied key and value per message (about 550 bytes of garbage and a copy of
/// the payload that the detector's hot path only reads once). <see cref="Poll"/> is the same call Confluent's Consume makes
/// (rd_kafka_consumer_poll), so rebalance callbacks, offsets and position behave exactly as with Consume
/// (<see cref="PollWaiting"/>: see there); the consumer stays in charge of everything else (subscribe, commit, assignment, close).
/// </summary>
/// <remarks>
/// The functions are resolved exactly as Confluent.Kafka's own [DllImport("librdkafka")] is (see <see cref="Librdkafka"/>),
/// so dlopen hands back the library it loaded; as a guard, a resolution that would map a librdkafka file not mapped
/// before is refused (Linux: it reads /proc/self/maps). Confluent.Kafka keeps an exception from inside its rebalance
/// callback and rethrows it from Consume: callers polling here take it with <see cref="TakeCallbackException"/>.
/// </remarks>
public sealed unsafe class RawConsumer : IDisposable
{
    /// <summary>Messages taken from librdkafka's queue at once by the services' loops, at most (about a millisecond of events at full rate).</summary>
    public const int Batch = 256;

    private static readonly byte[] TraceParentName = "traceparent\0"u8.ToArray();
    private static readonly byte[] TraceStateName = "tracestate\0"u8.ToArray();

    private readonly SafeHandle _handle;
    private readonly object _consumer;
    private readonly FieldInfo? _callbackException;
    private readonly delegate* unmanaged<IntPtr, int, RawMessage*> _poll;
    private readonly delegate* unmanaged<RawMessage*, void> _destroy;
    private readonly delegate* unmanaged<RawMessage*, IntPtr*, int> _headers;
    private readonly delegate* unmanaged<IntPtr, byte*, byte**, nuint*, int> _headerLast;
    private readonly delegate* unmanaged<IntPtr, nuint, byte**, byte**, nuint*, int> _headerAll;
    private readonly delegate* unmanaged<int, byte*> _errorText;
    private readonly delegate* unmanaged<IntPtr, IntPtr> _queueGetConsumer;
    private readonly delegate* unmanaged<IntPtr, int, RawMessage**, nuint, nint> _consumeBatch;
    private readonly delegate* unmanaged<IntPtr, void> _queueDestroy;

    /// <summary>The consumer group's queue (what rd_kafka_consumer_poll serves), held from the first batch until <see cref="Dispose"/>.</summary>
    private IntPtr _queue;

    private RawConsumer(object consumer, SafeHandle handle, IntPtr library)
    {
        _consumer = consumer;
        _callbackException = consumer.GetType().GetField("handlerException", BindingFlags.Instance | BindingFlags.NonPublic);
        _handle = handle;
        _poll = (delegate* unmanaged<IntPtr, int, RawMessage*>)NativeLibrary.GetExport(library, "rd_kafka_consumer_poll");
        _destroy = (delegate* unmanaged<RawMessage*, void>)NativeLibrary.GetExport(library, "rd_kafka_message_destroy");
        _headers = (delegate* unmanaged<RawMessage*, IntPtr*, int>)NativeLibrary.GetExport(library, "rd_kafka_message_headers");
        _headerLast = (delegate* unmanaged<IntPtr, byte*, byte**, nuint*, int>)NativeLibrary.GetExport(library, "rd_kafka_header_get_last");
        _headerAll = (delegate* unmanaged<IntPtr, nuint, byte**, byte**, nuint*, int>)NativeLibrary.GetExport(library, "rd_kafka_header_get_all");
        _errorText = (delegate* unmanaged<int, byte*>)NativeLibrary.GetExport(library, "rd_kafka_err2str");
        _queueGetConsumer = (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(library, "rd_kafka_queue_get_consumer");
        _consumeBatch = (delegate* unmanaged<IntPtr, int, RawMessage**, nuint, nint>)NativeLibrary.GetExport(library, "rd_kafka_consume_batch_queue");
        _queueDestroy = (delegate* unmanaged<IntPtr, void>)NativeLibrary.GetExport(library, "rd_kafka_queue_destroy");
    }

    /// <summary>Wraps a built consumer (its librdkafka is loaded by then).</summary>
    public static RawConsumer For<TKey, TValue>(IConsumer<TKey, TValue> consumer)
    {
        var property = typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            ?? throw new InvalidOperationException("This Confluent.Kafka has no Handle.LibrdkafkaHandle: the raw consume path needs 1.9.x.");
        var handle = (SafeHandle)property.GetValue(consumer.Handle)!;

        // Resolved as Confluent.Kafka's own [DllImport("librdkafka")] is (through Librdkafka's resolver, which this
        // overload of Load does not call, so by its path), so dlopen hands back the library it loaded. A process may hold
        // two librdkafka files (the test host's mock cluster loads Debian's by its path): if this resolution mapped a
        // file that was not mapped before, it is not Confluent's, and its functions must not be given Confluent's handle.
        var before = MappedLibrdkafka();
        var library = Librdkafka.Load();
        var after = MappedLibrdkafka();
        return after.SetEquals(before)
            ? new RawConsumer(consumer, handle, library)
            : throw new InvalidOperationException($"librdkafka resolved to a file Confluent.Kafka had not loaded ({string.Join(", ", after.Except(before))}).");
    }

    /// <summary>The librdkafka files mapped into this process.</summary>
    private static HashSet<string> MappedLibrdkafka() =>
        File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/') is var i and >= 0 ? line[i..] : "")
            .Where(path => Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal)) // the packaged one is centos8-librdkafka.so
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>The next message or event, or null after the timeout; every message returned must go back through <see cref="Destroy"/>.</summary>
    public RawMessage* Poll(int timeoutMs)
    {
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            return _poll(_handle.DangerousGetHandle(), timeoutMs);
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// The messages and events already waiting, up to <paramref name="into"/>'s length, without waiting for more
    /// (rd_kafka_consume_batch_queue on the consumer group's queue, the one <see cref="Poll"/> serves, so rebalance
    /// callbacks run inside it as they do inside a poll); each one written must go back through <see cref="Destroy"/>.
    /// One call takes the queue's clock readings and call overhead once for the batch, where a poll takes them per message.
    /// Unlike a poll, the call goes on after a rebalance callback: messages taken before it are handed out after it has
    /// run (librdkafka drops those of a partition taken away, by its barrier op; callers may check ownership too).
    /// </summary>
    public int PollWaiting(Span<IntPtr> into)
    {
        var added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            if (_queue == IntPtr.Zero)
            {
                _queue = _queueGetConsumer(_handle.DangerousGetHandle());
                if (_queue == IntPtr.Zero)
                {
                    throw new InvalidOperationException("The consumer has no group queue (no group.id).");
                }
            }

            fixed (IntPtr* messages = into)
            {
                var count = _consumeBatch(_queue, 0, (RawMessage**)messages, (nuint)into.Length);
                return count < 0 ? throw new InvalidOperationException($"rd_kafka_consume_batch_queue failed ({count}).") : (int)count;
            }
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// <see cref="PollWaiting"/>, or when nothing is waiting and <paramref name="timeoutMs"/> is above 0, the first message
    /// to arrive within it (a poll for one, which returns as soon as it comes). Returns how many <paramref name="into"/> holds.
    /// </summary>
    public int PollWaitingOrNext(Span<IntPtr> into, int timeoutMs)
    {
        var count = PollWaiting(into);
        if (count == 0 && timeoutMs > 0 && Poll(timeoutMs) is var next && next is not null)
        {
            into[0] = (IntPtr)next;
            count = 1;
        }

        return count;
    }

    public void Destroy(RawMessage* message) => _destroy(message);

    /// <summary>Gives back each of a batch's messages (those a caller did not get to).</summary>
    public void Destroy(ReadOnlySpan<IntPtr> messages)
    {
        foreach (var message in messages)
        {
            _destroy((RawMessage*)message);
        }
    }

    /// <summary>Lets go of the group queue's reference; librdkafka requires it before the consumer is closed. Safe to call again.</summary>
    public void Dispose()
    {
        if (_queue != IntPtr.Zero)
        {
            _queueDestroy(_queue);
            _queue = IntPtr.Zero;
        }
    }

    /// <summary>The exception Confluent.Kafka kept from inside its rebalance callback (what Consume would rethrow), cleared; null when none.</summary>
    public Exception? TakeCallbackException()
    {
        if (_callbackException?.GetValue(_consumer) is not Exception kept)
        {
            return null;
        }

        _callbackException.SetValue(_consumer, null);
        return kept;
    }

    public string ErrorText(int error) => Marshal.PtrToStringUTF8((IntPtr)_errorText(error)) ?? $"error {error}";

    /// <summary>The message's traceparent and tracestate headers, when it has them (no allocation when it has none).</summary>
    public bool TryGetTraceHeaders(RawMessage* message, out string? traceParent, out string? traceState)
    {
        traceParent = traceState = null;
        IntPtr headers;
        if (_headers(message, &headers) != 0 || headers == IntPtr.Zero)
        {
            return false;
        }

        traceParent = LastHeader(headers, TraceParentName);
        traceState = LastHeader(headers, TraceStateName);
        return traceParent is not null;
    }

    /// <summary>A managed copy of the message, for the paths that keep it past the poll (dead letters, slow checks).</summary>
    public ConsumeResult<byte[], byte[]> Copy(RawMessage* message, string topic)
    {
        Headers? headers = null;
        IntPtr native;
        if (_headers(message, &native) == 0 && native != IntPtr.Zero)
        {
            headers = new Headers();
            byte* name;
            byte* value;
            nuint size;
            for (nuint i = 0; _headerAll(native, i, &name, &value, &size) == 0; i++)
            {
                headers.Add(Marshal.PtrToStringUTF8((IntPtr)name)!, value is null ? null : new ReadOnlySpan<byte>(value, checked((int)size)).ToArray());
            }
        }

        return new ConsumeResult<byte[], byte[]>
        {
            TopicPartitionOffset = new TopicPartitionOffset(topic, new Partition(message->Partition), new Offset(message->Offset)),
            Message = new Message<byte[], byte[]>
            {
                Key = message->Key is null ? null! : new ReadOnlySpan<byte>(message->Key, checked((int)message->KeyLength)).ToArray(),
                // A tombstone (no payload) stays null, as Confluent's deserializer gives it.
                Value = message->Payload is null ? null! : message->Value.ToArray(),
                Headers = headers,
            },
        };
    }

    private string? LastHeader(IntPtr headers, byte[] name)
    {
        byte* value;
        nuint size;
        fixed (byte* n = name)
        {
            if (_headerLast(headers, n, &value, &size) != 0 || value is null)
            {
                return null;
            }
        }

        return Encoding.UTF8.GetString(value, checked((int)size));
    }
}
