using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Helios.ServiceDefaults.Kafka;

/// <summary>
/// The librdkafka Confluent.Kafka loaded, and a client's own handle in it, for the paths that call librdkafka directly
/// (<see cref="RawConsumer"/>; the pipeline benchmark's batch producer).
/// </summary>
/// <remarks>
/// The library is resolved exactly as Confluent.Kafka's own [DllImport("librdkafka")] is (same name, same assembly), so
/// dlopen hands back the library it loaded. A process may hold two librdkafka files (the test host's mock cluster loads
/// Debian's by its soname): as a guard, a resolution that would map a librdkafka file not mapped before is refused
/// (Linux: it reads /proc/self/maps), since its functions must not be given Confluent's handles.
/// </remarks>
public static class NativeLibrdkafka
{
    /// <summary>The client's rd_kafka_t, as Confluent.Kafka holds it (1.9.x).</summary>
    public static SafeHandle HandleOf(IClient client)
    {
        var property = typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            ?? throw new InvalidOperationException("This Confluent.Kafka has no Handle.LibrdkafkaHandle: the raw librdkafka paths need 1.9.x.");
        return (SafeHandle)property.GetValue(client.Handle)!;
    }

    /// <summary>The library handle of the librdkafka Confluent.Kafka loaded (call once a client is built).</summary>
    public static IntPtr Load()
    {
        var before = MappedLibrdkafka();
        var library = NativeLibrary.Load("librdkafka", typeof(Handle).Assembly, null);
        var after = MappedLibrdkafka();
        return after.SetEquals(before)
            ? library
            : throw new InvalidOperationException($"librdkafka resolved to a file Confluent.Kafka had not loaded ({string.Join(", ", after.Except(before))}).");
    }

    /// <summary>The librdkafka files mapped into this process.</summary>
    private static HashSet<string> MappedLibrdkafka() =>
        File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/') is var i and >= 0 ? line[i..] : "")
            .Where(path => Path.GetFileName(path).StartsWith("librdkafka", StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
}
