using System.Reflection;
using System.Runtime.InteropServices;

namespace Helios.ServiceDefaults.Kafka;

/// <summary>
/// Points Confluent.Kafka at the librdkafka of the librdkafka.redist package (2.16). On Linux x64 that is the package's
/// glibc build without SASL, <c>centos8-librdkafka.so</c>: its default <c>librdkafka.so</c> needs <c>libsasl2.so.3</c>,
/// which Debian 12 does not have, and Confluent.Kafka 1.9.3 only falls back to a <c>centos7</c> name. Why 2.16 and not
/// Debian's 2.0.2: a consumer whose prefetch queue is full fetches again after <c>fetch.queue.backoff.ms</c>
/// (<see cref="KafkaClientFactory"/> sets it), where 2.0.2 waited a second, whatever the queue's size: a consumer
/// that had fallen behind read its backlog in bursts.
/// </summary>
public static class Librdkafka
{
    private static int registered;

    /// <summary>Registers the resolver (once: Confluent.Kafka's assembly takes one). Call it before the first Kafka client.</summary>
    public static void Register()
    {
        if (Interlocked.Exchange(ref registered, 1) == 0)
        {
            NativeLibrary.SetDllImportResolver(typeof(Confluent.Kafka.Library).Assembly, Resolve);
        }
    }

    /// <summary>
    /// The packaged file loaded for "librdkafka" here (under runtimes/linux-x64/native, or beside the app after a publish
    /// for that runtime), or null when the runtime's own probing decides (other platforms). Looked up once.
    /// </summary>
    public static string? PackagedPath() => Packaged.Value;

    /// <summary>
    /// Loads librdkafka as Confluent.Kafka's <c>[DllImport("librdkafka")]</c> resolves it through <see cref="Register"/>'s
    /// resolver (the packaged file here, the runtime's probing on other platforms), so that a client's library comes back.
    /// </summary>
    public static IntPtr Load() =>
        Packaged.Value is { } path ? NativeLibrary.Load(path) : NativeLibrary.Load("librdkafka", typeof(Confluent.Kafka.Library).Assembly, null);

    private static readonly Lazy<string?> Packaged = new(() =>
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return null;
        }

        string[] candidates = [Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "centos8-librdkafka.so"), Path.Combine(AppContext.BaseDirectory, "centos8-librdkafka.so")];
        // Without it the runtime would probe for the package's default build (which needs libsasl2.so.3, absent on Debian 12)
        // or some other librdkafka, older than the consumers' settings (fetch.queue.backoff.ms) allow: say what is missing.
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new DllNotFoundException($"librdkafka 2.16 from the librdkafka.redist package is missing: looked for {string.Join(" and ", candidates)}.");
    });

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name == "librdkafka" && Packaged.Value is { } path ? NativeLibrary.Load(path) : IntPtr.Zero;
}
