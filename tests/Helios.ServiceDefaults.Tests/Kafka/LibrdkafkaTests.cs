using Confluent.Kafka;
using Helios.ServiceDefaults.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Helios.ServiceDefaults.Tests.Kafka;

/// <summary>The services' Kafka clients run on the packaged librdkafka 2.16, not on Debian's 2.0.2 (which the mock broker keeps).</summary>
[Collection(InfrastructureCollection.Name)]
public sealed class LibrdkafkaTests(InfrastructureFixture infra)
{
    [Fact]
    public void CreateConsumer_RunsOnThePackagedLibrdkafka()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:kafka"] = infra.Kafka.BootstrapServers }).Build();
        using var consumer = new KafkaClientFactory(config, NullLoggerFactory.Instance).CreateConsumer<Ignore>("librdkafka-test", "librdkafka-test");

        var packaged = Librdkafka.PackagedPath();
        Assert.NotNull(packaged);
        Assert.StartsWith("2.16.", Library.VersionString, StringComparison.Ordinal);
        Assert.Contains(File.ReadLines("/proc/self/maps"), line => line.EndsWith(packaged, StringComparison.Ordinal));
    }
}
