using Helios.ServiceDefaults.Data;
using Npgsql;

namespace Helios.Detector.Storage;

/// <summary>
/// Folds the per-minute sums the storage writer appends (<c>event_minutes_pending</c>) into
/// <c>event_minutes_folded</c> every <c>Helios:Storage:FoldSeconds</c> (default 5), so the pending table stays
/// small and reading <c>event_minutes</c> stays cheap. Readers get exact sums either way (see
/// <see cref="EventWriter.FoldMinutesAsync"/>); several detector processes may fold at once. The same step summarizes
/// the block ranges of the events' BRIN index filled since the last (<see cref="EventWriter.SummarizeNewRangesAsync"/>),
/// so lookups of a service's recent events stay narrow.
/// </summary>
public sealed class EventMinutesFolder(
    SchemaInitializer schema,
    NpgsqlDataSource db,
    StorageMetrics metrics,
    IConfiguration configuration,
    ILogger<EventMinutesFolder> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = EventStorageWorker.PositiveSeconds(configuration, "Helios:Storage:FoldSeconds", 5);
        await schema.Ready.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(every);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await using var connection = await db.OpenConnectionAsync(stoppingToken);
                var (moved, keys) = await EventWriter.FoldMinutesAsync(connection, stoppingToken);
                metrics.MinutesFolded.Add(moved);
                if (moved > 0)
                {
                    logger.LogDebug("Folded {Moved} pending minute sums into {Keys} minutes", moved, keys);
                }

                metrics.RangesSummarized.Add(await EventWriter.SummarizeNewRangesAsync(connection, stoppingToken));
            }
            catch (Exception ex) when (ex is NpgsqlException && !stoppingToken.IsCancellationRequested)
            {
                // The sums stay pending (and counted by event_minutes), the ranges unsummarized; the next tick tries again.
                logger.LogWarning("Folding the pending minute sums or summarizing new index ranges failed: {Message}", ex.Message);
            }
        }
    }
}
