using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Helios.ServiceDefaults.Health;

/// <summary>
/// A service started by Helios.AppHost stops when the AppHost is gone, even after a kill -9 of
/// the AppHost, so no orphan keeps ports or consumer-group membership.
/// </summary>
public sealed class ParentProcessWatchdog(IConfiguration configuration, IHostApplicationLifetime lifetime, ILogger<ParentProcessWatchdog> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!int.TryParse(configuration["HELIOS_APPHOST_PID"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var parent))
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (!Directory.Exists($"/proc/{parent}"))
            {
                logger.LogWarning("Helios.AppHost (pid {Pid}) is gone; stopping", parent);
                lifetime.StopApplication();
                return;
            }
        }
    }
}
