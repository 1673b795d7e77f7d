using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;

namespace Helios.AppHost.Hosting;

/// <summary>Creates the topics on a real (external) cluster; existing topics are left as they are.</summary>
internal static class ExternalKafka
{
    public static async Task EnsureTopicsAsync(string bootstrap, IReadOnlyList<TopicSpec> topics, ILogger logger, CancellationToken ct)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        try
        {
            await admin.CreateTopicsAsync(topics.Select(t => new TopicSpecification { Name = t.Name, NumPartitions = t.Partitions, ReplicationFactor = -1 }),
                new CreateTopicsOptions { RequestTimeout = TimeSpan.FromSeconds(15) }).WaitAsync(ct);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
        }

        logger.LogInformation("External Kafka {Bootstrap}: topics {Topics} present", bootstrap, string.Join(", ", topics.Select(t => t.Name)));
    }
}
