using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Helios.ServiceDefaults.Kafka;

/// <summary>Creates Kafka clients for the `kafka` connection string (Aspire's resource name).</summary>
public sealed class KafkaClientFactory(IConfiguration configuration, ILoggerFactory loggers)
{
    static KafkaClientFactory() => Librdkafka.Register();

    public string BootstrapServers => configuration.GetConnectionString("kafka")
        ?? throw new InvalidOperationException("ConnectionStrings__kafka (or KAFKA_BROKERS) is not set: Helios needs a Kafka bootstrap address.");

    public IProducer<string, byte[]> CreateProducer(string clientId, Action<ProducerConfig>? configure = null)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = BootstrapServers,
            ClientId = clientId,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 5,
            CompressionType = CompressionType.Lz4,
        };
        configure?.Invoke(config);
        var logger = loggers.CreateLogger("Kafka." + clientId);
        return new ProducerBuilder<string, byte[]>(config)
            .SetLogHandler((_, m) => LogKafka(logger, m))
            .Build();
    }

    /// <summary>
    /// A consumer whose keys are read as <typeparamref name="TKey"/>: <see cref="Ignore"/> when the key is not used,
    /// byte[] when it is only passed on (no UTF-16 string decoded per message).
    /// </summary>
    public IConsumer<TKey, byte[]> CreateConsumer<TKey>(string groupId, string clientId, Action<ConsumerConfig>? configure = null, Action<ConsumerBuilder<TKey, byte[]>>? handlers = null)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = BootstrapServers,
            GroupId = groupId,
            ClientId = clientId,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            SessionTimeoutMs = 6000,
            HeartbeatIntervalMs = 1000,
            PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,

            // A broker answers a fetch as soon as there is data; with none it waits up to this long. The
            // development broker waits the whole time even when data arrives meanwhile, so the default 500 ms
            // would stall a consumer that has caught up (and delay the events that close windows).
            FetchWaitMaxMs = 50,
        };

        // A full prefetch queue (queued.max.messages.kbytes) is fetched again this soon, not after librdkafka's default
        // second: an 8 MiB queue holds 70 ms of the detector's 340,000 events/s, and the consumer would read in bursts.
        config.Set("fetch.queue.backoff.ms", "10");
        configure?.Invoke(config);
        var logger = loggers.CreateLogger("Kafka." + clientId);
        var builder = new ConsumerBuilder<TKey, byte[]>(config)
            .SetLogHandler((_, m) => LogKafka(logger, m))
            .SetErrorHandler((_, e) => logger.LogWarning("Kafka error {Code}: {Reason}", e.Code, e.Reason));
        handlers?.Invoke(builder);
        return builder.Build();
    }

    public IAdminClient CreateAdmin() =>
        new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers, SocketTimeoutMs = 5000 }).Build();

    private static void LogKafka(ILogger logger, LogMessage m)
    {
        var level = m.Level switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical or SyslogLevel.Error => LogLevel.Error,
            SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        logger.Log(level, "{Facility}: {Message}", m.Facility, m.Message);
    }
}
