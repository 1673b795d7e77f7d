using System.Net;
using System.Net.Sockets;
using System.Text;
using Confluent.Kafka;
using Helios.AppHost.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Helios.AppHost.Tests.Hosting;

public sealed class KafkaMockClusterTests(ITestOutputHelper output)
{
    private readonly ILogger _logger = new OutputLogger(output);

    [Fact]
    public async Task Start_FreePort_ProducesAndConsumesKeyedMessagesWithHeaders()
    {
        using var cluster = KafkaMockCluster.Start(0, _logger);
        Assert.Matches(@"^127\.0\.0\.1:\d+$", cluster.BootstrapServers);
        Assert.DoesNotContain(cluster.BootstrapServers, cluster.InternalBootstrapServers, StringComparison.Ordinal);
        cluster.CreateTopic("t", 4);

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = 5 }).Build())
        {
            var deliveries = Enumerable.Range(0, 100).Select(i => producer.ProduceAsync("t", new Message<string, string>
            {
                Key = $"k{i}",
                Value = $"v{i}",
                Headers = new Headers { { "n", Encoding.UTF8.GetBytes(i.ToString()) } },
            }));
            var results = await Task.WhenAll(deliveries);
            Assert.All(results, r => Assert.Equal(PersistenceStatus.Persisted, r.Status));
        }

        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build())
        {
            var metadata = admin.GetMetadata("t", TimeSpan.FromSeconds(10));
            Assert.Equal(4, Assert.Single(metadata.Topics).Partitions.Count);
        }

        var consumed = new List<ConsumeResult<string, string>>();
        using (var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = "g",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = 6000,
        }).Build())
        {
            consumer.Subscribe("t");
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (consumed.Count < 100 && DateTime.UtcNow < deadline)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is { } result)
                {
                    consumed.Add(result);
                }
            }

            consumer.Close();
        }

        Assert.Equal(100, consumed.Count);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"k{i}").Order(), consumed.Select(c => c.Message.Key).Order());
        Assert.All(consumed, c =>
        {
            var n = Encoding.UTF8.GetString(c.Message.Headers.GetLastBytes("n"));
            Assert.Equal($"k{n}", c.Message.Key);
            Assert.Equal($"v{n}", c.Message.Value);
        });
        Assert.Equal(4, consumed.Select(c => c.Partition.Value).Distinct().Count());
    }

    [Fact]
    public void Start_PortInUse_ThrowsNamingPortAndSetting()
    {
        using var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var port = ((IPEndPoint)blocker.LocalEndpoint).Port;

        var ex = Assert.Throws<InvalidOperationException>(() => KafkaMockCluster.Start(port, _logger));

        Assert.Contains($"port {port}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AppHost:Ports", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateTopic_ExistingTopic_ThrowsWithErrorCode()
    {
        using var cluster = KafkaMockCluster.Start(0, _logger);
        cluster.CreateTopic("dup", 2);

        var ex = Assert.Throws<InvalidOperationException>(() => cluster.CreateTopic("dup", 2));

        Assert.Contains("error 36", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dispose_CalledTwice_IsIdempotentAndFreesThePort()
    {
        var cluster = KafkaMockCluster.Start(0, _logger);
        var port = int.Parse(cluster.BootstrapServers.Split(':')[1]);

        cluster.Dispose();
        cluster.Dispose();

        Assert.Throws<ObjectDisposedException>(() => cluster.CreateTopic("late", 1));
        using var again = new TcpListener(IPAddress.Loopback, port);
        again.Start();
    }

    private sealed class OutputLogger(ITestOutputHelper output) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            try
            {
                output.WriteLine($"{logLevel}: {formatter(state, exception)} {exception}");
            }
            catch (InvalidOperationException)
            {
                // librdkafka threads may log after the test has finished.
            }
        }
    }
}
