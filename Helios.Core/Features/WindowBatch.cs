using Helios.Core.Events;

namespace Helios.Core.Features;

/// <summary>An event reduced to what the window features read; Service is an index into the caller's service list.</summary>
public readonly record struct WindowEvent(long TimestampTicks, int Service, EventLevel Level, double LatencyMs, string? Endpoint);

/// <summary>
/// Feature rows for training from a stored or generated batch of events: the same tumbling windows
/// (per service, start = t - t mod size) and the same <see cref="WindowAccumulator"/> as the streaming
/// detector, without the watermark bookkeeping a batch in time order does not need.
/// </summary>
public static class WindowBatch
{
    /// <summary>
    /// Rows (row-major, <see cref="EventWindowFeatures.Schema"/> order) of every window that ends at or before
    /// <paramref name="endTicks"/> and holds at least <paramref name="minEvents"/> events. Events must be in
    /// event-time order per service; windows are emitted as they close, then the rest by service.
    /// </summary>
    public static double[] Extract(ReadOnlySpan<WindowEvent> events, int services, TimeSpan window, int minEvents, long endTicks, out int rows)
    {
        var size = window.Ticks;
        var open = new WindowAccumulator?[services];
        var openStart = new long[services];
        var output = new List<double>(events.Length / Math.Max(minEvents, 1) * EventWindowFeatures.Schema.Count / 4);
        rows = 0;
        foreach (ref readonly var e in events)
        {
            var start = e.TimestampTicks - (e.TimestampTicks % size);
            var acc = open[e.Service];
            if (acc is null || openStart[e.Service] != start)
            {
                if (acc is not null && start < openStart[e.Service])
                {
                    throw new ArgumentException($"Events of service {e.Service} are not in event-time order at {new DateTime(e.TimestampTicks, DateTimeKind.Utc):O}.", nameof(events));
                }

                rows += Close(acc, minEvents, output);
                open[e.Service] = acc = new WindowAccumulator();
                openStart[e.Service] = start;
            }

            acc.Add(e.Level, e.LatencyMs, e.Endpoint);
        }

        for (var s = 0; s < services; s++)
        {
            if (open[s] is { } acc && openStart[s] + size <= endTicks)
            {
                rows += Close(acc, minEvents, output);
            }
        }

        return [.. output];
    }

    private static int Close(WindowAccumulator? acc, int minEvents, List<double> output)
    {
        if (acc is null || acc.Count < minEvents)
        {
            return 0;
        }

        output.AddRange(acc.ToFeatures());
        return 1;
    }
}
