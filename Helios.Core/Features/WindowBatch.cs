using Helios.Core.Events;
using Helios.Core.Windows;

namespace Helios.Core.Features;

/// <summary>An event reduced to what the window features read; Service is an index into the caller's service list.</summary>
public readonly record struct WindowEvent(long TimestampTicks, int Service, EventLevel Level, double LatencyMs, string? Endpoint);

/// <summary>
/// Windows for training from a stored or generated batch of events: the same tumbling windows
/// (per service, start = t - t mod size) and the same <see cref="WindowAccumulator"/> as the streaming
/// detector, without the watermark bookkeeping that a batch in time order does not need.
/// </summary>
public static class WindowBatch
{
    /// <summary>
    /// Every window that ends at or before <paramref name="endTicks"/>, as the detector would close it.
    /// Events must be in event-time order per service; windows come out as they close, then the rest by service.
    /// </summary>
    public static List<ClosedWindow> Windows(ReadOnlySpan<WindowEvent> events, IReadOnlyList<string> services, TimeSpan window, long endTicks)
    {
        var size = window.Ticks;
        var open = new WindowAccumulator?[services.Count];
        var openStart = new long[services.Count];
        var closed = new List<ClosedWindow>();
        foreach (ref readonly var e in events)
        {
            var start = e.TimestampTicks - (e.TimestampTicks % size);
            var acc = open[e.Service];
            if (acc is null || openStart[e.Service] != start)
            {
                if (acc is not null)
                {
                    if (start < openStart[e.Service])
                    {
                        throw new ArgumentException($"Events of service {services[e.Service]} are not in event-time order at {new DateTime(e.TimestampTicks, DateTimeKind.Utc):O}.", nameof(events));
                    }

                    closed.Add(Close(services[e.Service], openStart[e.Service], size, acc));
                }

                open[e.Service] = acc = new WindowAccumulator();
                openStart[e.Service] = start;
            }

            acc.Add(e.Level, e.LatencyMs, e.Endpoint);
        }

        for (var s = 0; s < services.Count; s++)
        {
            if (open[s] is { } acc && openStart[s] + size <= endTicks)
            {
                closed.Add(Close(services[s], openStart[s], size, acc));
            }
        }

        return closed;
    }

    private static ClosedWindow Close(string service, long start, long size, WindowAccumulator events) =>
        new(service, new DateTimeOffset(start, TimeSpan.Zero), new DateTimeOffset(start + size, TimeSpan.Zero), events);
}
