using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;

namespace Helios.AppHost.Hosting;

/// <summary>
/// Creates the topics that are missing on a real (external) cluster; existing topics are left as they are.
/// Topics that already exist need no controller and no create permission, so clusters managed elsewhere work as they are.
/// </summary>
internal static class ExternalKafka
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(15);

    public static async Task EnsureTopicsAsync(string bootstrap, IReadOnlyList<TopicSpec> topics, ILogger logger, CancellationToken ct)
    {
        ServiceDefaults.Kafka.Librdkafka.Register();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap, SocketTimeoutMs = (int)RequestTimeout.TotalMilliseconds }).Build();
        var metadata = await Task.Run(() => admin.GetMetadata(RequestTimeout), ct).WaitAsync(ct);
        var existing = metadata.Topics.Where(t => t.Error.Code == ErrorCode.NoError).ToDictionary(t => t.Topic, t => t.Partitions.Count, StringComparer.Ordinal);
        foreach (var topic in topics.Where(t => existing.TryGetValue(t.Name, out var partitions) && partitions != t.Partitions))
        {
            logger.LogWarning("External Kafka {Bootstrap}: topic {Topic} has {Actual} partition(s), Helios declares {Expected}; left as it is",
                bootstrap, topic.Name, existing[topic.Name], topic.Partitions);
        }

        var missing = topics.Where(t => !existing.ContainsKey(t.Name)).ToList();
        if (missing.Count > 0)
        {
            try
            {
                await admin.CreateTopicsAsync(missing.Select(t => new TopicSpecification { Name = t.Name, NumPartitions = t.Partitions, ReplicationFactor = -1 }),
                    new CreateTopicsOptions { RequestTimeout = RequestTimeout, OperationTimeout = RequestTimeout }).WaitAsync(ct);
            }
            catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
            {
            }
        }

        logger.LogInformation("External Kafka {Bootstrap}: topics {Topics} present ({Created} created)",
            bootstrap, string.Join(", ", topics.Select(t => t.Name)), missing.Count);
    }
}
