using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Helios.ServiceDefaults.Data;

/// <summary>Hosted initializer: applies migrations, retrying until PostgreSQL answers; its health check reports progress.</summary>
public sealed class SchemaInitializer(NpgsqlDataSource dataSource, ILogger<SchemaInitializer> logger) : BackgroundService, IHealthCheck
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile string _state = "waiting for PostgreSQL";

    /// <summary>Completes once the schema is current; work that needs the tables awaits it.</summary>
    public Task Ready => _ready.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var delay = TimeSpan.FromMilliseconds(250);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var applied = await MigrationRunner.ApplyAsync(dataSource, logger, s => _state = s, stoppingToken);
                _state = $"schema current ({MigrationRunner.Embedded.Count} migrations, {applied} applied now)";
                _ready.TrySetResult();
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
            {
                _state = $"waiting for PostgreSQL: {ex.Message}";
                logger.LogWarning("Schema initialization waiting for PostgreSQL: {Message}", ex.Message);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 5000));
            }
        }
    }

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_ready.Task.IsCompletedSuccessfully ? HealthCheckResult.Healthy(_state) : HealthCheckResult.Unhealthy(_state));
}
