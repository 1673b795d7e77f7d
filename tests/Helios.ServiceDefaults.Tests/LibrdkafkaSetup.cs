using System.Runtime.CompilerServices;

namespace Helios.ServiceDefaults.Tests;

internal static class LibrdkafkaSetup
{
    /// <summary>The tests' own Kafka clients run on the librdkafka the services run on (see Helios.ServiceDefaults.Kafka.Librdkafka).</summary>
#pragma warning disable CA2255 // a test assembly's start is the place: its clients are built before any service code runs
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() => ServiceDefaults.Kafka.Librdkafka.Register();
}
