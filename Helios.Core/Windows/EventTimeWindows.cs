using Helios.Core.Events;
using Helios.Core.Features;

namespace Helios.Core.Windows;

public sealed record ClosedWindow(string Service, DateTimeOffset Start, DateTimeOffset End, WindowAccumulator Events);

/// <summary>
/// Tumbling windows per service by EVENT time. The watermark is the largest event time seen
/// minus the allowed lateness; a window closes once the watermark passes its end. Events for a
/// window that has already closed are late: counted and reported, not added.
/// </summary>
public sealed class EventTimeWindows(TimeSpan size, TimeSpan allowedLateness)
{
    private readonly Dictionary<(string Service, long Start), WindowAccumulator> _open = [];
    private readonly long _sizeTicks = size.Ticks;
    private long _maxEventTicks = long.MinValue;

    public TimeSpan Size => size;

    public long LateEvents { get; private set; }

    public int OpenWindows => _open.Count;

    public DateTimeOffset? Watermark => _maxEventTicks == long.MinValue ? null : new DateTimeOffset(_maxEventTicks, TimeSpan.Zero) - allowedLateness;

    public static DateTimeOffset WindowStart(DateTimeOffset timestamp, TimeSpan size)
    {
        var ticks = timestamp.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % size.Ticks), TimeSpan.Zero);
    }

    /// <summary>Adds an event; false when it is late (its window already closed).</summary>
    public bool Add(TelemetryEvent evt)
    {
        var ticks = evt.Timestamp.UtcTicks;
        var start = ticks - (ticks % _sizeTicks);
        if (Watermark is { } wm && start + _sizeTicks <= wm.UtcTicks)
        {
            LateEvents++;
            return false;
        }

        if (!_open.TryGetValue((evt.Service, start), out var acc))
        {
            acc = new WindowAccumulator();
            _open[(evt.Service, start)] = acc;
        }

        acc.Add(evt.Level, evt.LatencyMs, evt.Endpoint);
        _maxEventTicks = Math.Max(_maxEventTicks, ticks);
        return true;
    }

    /// <summary>Removes and returns the windows the watermark has passed, oldest first.</summary>
    public IReadOnlyList<ClosedWindow> DrainClosed()
    {
        if (Watermark is not { } wm)
        {
            return [];
        }

        var closed = new List<ClosedWindow>();
        foreach (var ((service, start), acc) in _open)
        {
            if (start + _sizeTicks <= wm.UtcTicks)
            {
                closed.Add(new ClosedWindow(service, new DateTimeOffset(start, TimeSpan.Zero), new DateTimeOffset(start + _sizeTicks, TimeSpan.Zero), acc));
            }
        }

        foreach (var w in closed)
        {
            _open.Remove((w.Service, w.Start.UtcTicks));
        }

        closed.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : string.CompareOrdinal(a.Service, b.Service));
        return closed;
    }
}
