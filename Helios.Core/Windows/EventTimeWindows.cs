using Helios.Core.Events;
using Helios.Core.Features;

namespace Helios.Core.Windows;

public sealed record ClosedWindow(string Service, DateTimeOffset Start, DateTimeOffset End, WindowAccumulator Events);

/// <summary>
/// Tumbling windows per service by EVENT time. Each source (a Kafka partition) has its own
/// watermark, the largest event time it delivered minus the allowed lateness; the overall
/// watermark is the smallest over sources still catching up, so a partition read ahead of the
/// others cannot make their on-time events late. A source that is caught up (reached its end)
/// or silent for the idle timeout (wall clock) stops holding the watermark back; when no source
/// holds it, the largest applies, which also flushes the last windows of a quiet stream.
/// Events for a window that has already closed are late: counted and reported, not added.
/// </summary>
public sealed class EventTimeWindows(TimeSpan size, TimeSpan allowedLateness, TimeSpan? idleTimeout = null)
{
    private readonly Dictionary<(string Service, long Start), (WindowAccumulator Events, int Source)> _open = [];
    private readonly Dictionary<int, Source> _sources = [];
    private readonly long _sizeTicks = size.Ticks;
    private readonly long _idleTicks = (idleTimeout ?? TimeSpan.FromSeconds(30)).Ticks;
    private long _watermarkTicks = long.MinValue;
    private long _drainedAt = long.MinValue;

    public TimeSpan Size => size;

    public long LateEvents { get; private set; }

    public int OpenWindows => _open.Count;

    public DateTimeOffset? Watermark => _watermarkTicks == long.MinValue ? null : new DateTimeOffset(_watermarkTicks, TimeSpan.Zero);

    public static DateTimeOffset WindowStart(DateTimeOffset timestamp, TimeSpan size)
    {
        var ticks = timestamp.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % size.Ticks), TimeSpan.Zero);
    }

    /// <summary>Adds an event from a source; false when it is late (its window already closed).</summary>
    public bool Add(TelemetryEvent evt, int source = 0, DateTimeOffset? now = null)
    {
        var ticks = evt.Timestamp.UtcTicks;
        var nowTicks = (now ?? DateTimeOffset.UtcNow).UtcTicks;
        var max = _sources.TryGetValue(source, out var s) ? Math.Max(s.MaxEventTicks, ticks) : ticks;
        _sources[source] = new Source(max, nowTicks, CaughtUp: false);
        var start = ticks - (ticks % _sizeTicks);
        if (start + _sizeTicks <= _watermarkTicks)
        {
            LateEvents++;
            return false;
        }

        if (!_open.TryGetValue((evt.Service, start), out var open))
        {
            open = (new WindowAccumulator(), source);
            _open[(evt.Service, start)] = open;
        }

        open.Events.Add(evt.Level, evt.LatencyMs, evt.Endpoint);
        return true;
    }

    /// <summary>A newly assigned source holds the watermark until it delivers, reaches its end or goes idle.</summary>
    public void AddSource(int source, DateTimeOffset? now = null) =>
        _sources.TryAdd(source, new Source(long.MinValue, (now ?? DateTimeOffset.UtcNow).UtcTicks, CaughtUp: false));

    /// <summary>The source has nothing more to deliver for now (partition end): it stops holding the watermark.</summary>
    public void MarkCaughtUp(int source)
    {
        if (_sources.TryGetValue(source, out var s))
        {
            _sources[source] = s with { CaughtUp = true };
        }
    }

    /// <summary>
    /// A source that is no longer ours (partition revoked or lost) stops holding the watermark, and the
    /// windows it opened are dropped: the partition's new owner rebuilds them from the committed offset.
    /// </summary>
    public void RemoveSource(int source)
    {
        _sources.Remove(source);
        foreach (var key in _open.Where(w => w.Value.Source == source).Select(w => w.Key).ToList())
        {
            _open.Remove(key);
        }
    }

    /// <summary>Advances the watermark and removes and returns the windows it has passed, oldest first.</summary>
    public IReadOnlyList<ClosedWindow> DrainClosed(DateTimeOffset? now = null)
    {
        AdvanceWatermark((now ?? DateTimeOffset.UtcNow).UtcTicks);
        // Nothing can have closed unless the watermark moved: a late event never opens a window.
        if (_watermarkTicks == _drainedAt || _open.Count == 0)
        {
            return [];
        }

        _drainedAt = _watermarkTicks;

        var closed = new List<ClosedWindow>();
        foreach (var ((service, start), open) in _open)
        {
            if (start + _sizeTicks <= _watermarkTicks)
            {
                closed.Add(new ClosedWindow(service, new DateTimeOffset(start, TimeSpan.Zero), new DateTimeOffset(start + _sizeTicks, TimeSpan.Zero), open.Events));
            }
        }

        foreach (var w in closed)
        {
            _open.Remove((w.Service, w.Start.UtcTicks));
        }

        closed.Sort((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : string.CompareOrdinal(a.Service, b.Service));
        return closed;
    }

    private void AdvanceWatermark(long nowTicks)
    {
        if (_sources.Count == 0)
        {
            return;
        }

        long holding = long.MaxValue, overallMax = long.MinValue;
        foreach (var (_, source) in _sources)
        {
            overallMax = Math.Max(overallMax, source.MaxEventTicks);
            if (!source.CaughtUp && nowTicks - source.LastSeenTicks < _idleTicks)
            {
                holding = Math.Min(holding, source.MaxEventTicks);
            }
        }

        var basis = holding == long.MaxValue ? overallMax : holding;
        if (basis == long.MinValue)
        {
            return;
        }

        var candidate = basis - allowedLateness.Ticks;
        // The watermark never goes back, even when a lagging source becomes active again.
        _watermarkTicks = Math.Max(_watermarkTicks, candidate);
    }

    private readonly record struct Source(long MaxEventTicks, long LastSeenTicks, bool CaughtUp);
}
