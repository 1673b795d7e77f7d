using System.Runtime.InteropServices;
using Helios.Core.Events;
using Helios.Core.Features;

namespace Helios.Core.Windows;

/// <summary>A window its source's watermark has passed: its service, bounds and events (a value: a slot closes thousands at once).</summary>
public readonly record struct ClosedWindow(string Service, DateTimeOffset Start, DateTimeOffset End, WindowAccumulator Events);

/// <summary>
/// Tumbling windows per service by EVENT time. Each source (a Kafka partition; a service's events
/// all come from the partition its key maps to) has its own watermark: the largest event time it
/// delivered minus the allowed lateness, never going back. A window closes when the watermark of
/// the source that fed it passes its end, so a partition read ahead of the others cannot make
/// their on-time events late, and a partition newly assigned after a rebalance or restart,
/// re-read from its committed offset, starts from its own past rather than from where the others
/// are. A source silent for the idle timeout (wall clock) moves with the largest event time of all
/// sources, which flushes the last windows of a quiet stream; reaching a partition's end does not
/// count, since its producer may only be slower than the others. Events for a window that has already closed are late: counted and reported, not added.
/// </summary>
public sealed class EventTimeWindows(TimeSpan size, TimeSpan allowedLateness, TimeSpan? idleTimeout = null)
{
    private const int MaxSpare = 100_000;
    private static readonly Comparer<ClosedWindow> OldestFirst =
        Comparer<ClosedWindow>.Create((a, b) => a.Start != b.Start ? a.Start.CompareTo(b.Start) : string.CompareOrdinal(a.Service, b.Service));
    private readonly Dictionary<(string Service, long Start), (WindowAccumulator Events, int Source)> _open = [];
    private readonly Dictionary<int, Source> _sources = [];

    /// <summary>Accumulators of scored windows, reused for new ones (see <see cref="Recycle"/>).</summary>
    private readonly Stack<WindowAccumulator> _spare = new();
    private readonly long _sizeTicks = size.Ticks;
    private readonly long _idleTicks = (idleTimeout ?? TimeSpan.FromSeconds(30)).Ticks;
    private long _watermarkVersion;
    private long _drainedAt = -1;

    /// <summary>
    /// The wall clock of the last watermark pass; the earliest event time that may carry a watermark across a window end
    /// (a quiet source's follows the newest event of all, so the least over all sources); whether an event since reached it.
    /// </summary>
    private long _advancedAt = long.MinValue;
    private long _crossingAt = long.MinValue;
    private bool _crossingDue;

    public TimeSpan Size => size;

    public long LateEvents { get; private set; }

    public int OpenWindows => _open.Count;

    /// <summary>The most advanced source watermark (what a quiet stream is flushed up to).</summary>
    public DateTimeOffset? Watermark =>
        _sources.Count == 0 || _sources.Values.Max(s => s.WatermarkTicks) is var w && w == long.MinValue ? null : new DateTimeOffset(w, TimeSpan.Zero);

    public static DateTimeOffset WindowStart(DateTimeOffset timestamp, TimeSpan size)
    {
        var ticks = timestamp.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % size.Ticks), TimeSpan.Zero);
    }

    /// <summary>Adds an event from a source; false when it is late (its window already closed).</summary>
    public bool Add(TelemetryEvent evt, int source = 0, DateTimeOffset? now = null) =>
        Add(EventFields.From(evt), source, (now ?? DateTimeOffset.UtcNow).UtcTicks);

    /// <summary>Adds an event's fields from a source at a wall-clock time (UTC ticks); false when it is late.</summary>
    public bool Add(in EventFields evt, int source, long nowTicks) => Add(evt, source, nowTicks, out _);

    /// <summary>
    /// <see cref="Add(in EventFields, int, long)"/>, also telling whether the event may be its window's first from this
    /// source: the window was opened by it, or by another source (then every event of this source says yes).
    /// </summary>
    public bool Add(in EventFields evt, int source, long nowTicks, out bool firstFromSource)
    {
        OpenWindowHint none = default;
        return Add(evt, source, nowTicks, ref none, out firstFromSource);
    }

    /// <summary>
    /// <see cref="Add(in EventFields, int, long, out bool)"/> with the caller's <paramref name="hint"/> for the event's
    /// service (one per service, kept where the caller finds the service anyway): the window it names, while still open,
    /// takes the event without a lookup among all open windows, and the hint is updated to the window the event went to.
    /// </summary>
    public bool Add(in EventFields evt, int source, long nowTicks, ref OpenWindowHint hint, out bool firstFromSource)
    {
        firstFromSource = false;
        var ticks = evt.TimestampTicks;
        ref var known = ref CollectionsMarshal.GetValueRefOrAddDefault(_sources, source, out var exists);
        if (!exists)
        {
            known = new Source(long.MinValue, nowTicks, long.MinValue, long.MinValue);
            _crossingAt = long.MinValue;
        }

        var watermark = known.WatermarkTicks;
        known = known with { MaxEventTicks = Math.Max(known.MaxEventTicks, ticks), LastSeenTicks = nowTicks };
        _crossingDue |= ticks >= _crossingAt;
        var start = ticks - (ticks % _sizeTicks);
        if (start + _sizeTicks <= watermark)
        {
            LateEvents++;
            return false;
        }

        if (hint.Events is { } hinted && hint.Start == start && hinted.Epoch == hint.Epoch && string.Equals(hint.Service, evt.Service, StringComparison.Ordinal))
        {
            firstFromSource = hint.Source != source;
            hinted.Add(evt.Level, evt.LatencyMs, evt.Endpoint);
            return true;
        }

        ref var open = ref CollectionsMarshal.GetValueRefOrAddDefault(_open, (evt.Service, start), out exists);
        if (!exists)
        {
            open = (_spare.TryPop(out var spare) ? spare : new WindowAccumulator(), source);
        }

        firstFromSource = !exists || open.Source != source;
        open.Events.Add(evt.Level, evt.LatencyMs, evt.Endpoint);
        hint = new OpenWindowHint(evt.Service, start, open.Source, open.Events);
        return true;
    }

    /// <summary>
    /// Hands back the accumulators of closed windows the caller is done with, to be emptied and reused by new windows:
    /// a window's state then never outlives its slot as garbage (10,000 services close 10,000 windows a slot, and
    /// objects that live one slot are the ones a generational collector pays for most). The windows must not be read after.
    /// </summary>
    public void Recycle(IEnumerable<ClosedWindow> closed)
    {
        foreach (var window in closed)
        {
            if (_spare.Count >= MaxSpare)
            {
                return;
            }

            window.Events.Reset();
            _spare.Push(window.Events);
        }
    }

    /// <summary>A newly assigned source holds the watermark until it delivers, reaches its end or goes idle.</summary>
    public void AddSource(int source, DateTimeOffset? now = null)
    {
        if (_sources.TryAdd(source, new Source(long.MinValue, (now ?? DateTimeOffset.UtcNow).UtcTicks, long.MinValue, long.MinValue)))
        {
            _crossingAt = long.MinValue;
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
            _open.Remove(key, out var removed);
            removed.Events.Epoch++;
        }
    }

    /// <summary>Advances the source watermarks and removes and returns the windows they have passed, oldest first.</summary>
    public IReadOnlyList<ClosedWindow> DrainClosed(DateTimeOffset? now = null)
    {
        var closed = new List<ClosedWindow>();
        DrainClosed(closed, now);
        return closed;
    }

    /// <summary>
    /// <see cref="DrainClosed(DateTimeOffset?)"/> into the caller's list (appended, oldest first), which it can reuse
    /// from drain to drain: a slot's windows close together, thousands at a time. Returns how many closed.
    /// </summary>
    public int DrainClosed(List<ClosedWindow> into, DateTimeOffset? now = null)
    {
        // The detector drains after every event: the watermarks are passed over only when the clock moved (a source may
        // have gone quiet) or an event may have carried one across a window end (see _crossingAt). Between two ends a watermark's exact
        // value decides nothing: window ends are multiples of the size, so an end is at or before the watermark exactly
        // when it is at or before the watermark's last end (that is what Add's lateness check and the closing compare).
        var nowTicks = (now ?? DateTimeOffset.UtcNow).UtcTicks;
        if (_crossingDue || nowTicks != _advancedAt)
        {
            AdvanceWatermarks(nowTicks);
            _crossingDue = false;
            _advancedAt = nowTicks;
        }

        // Nothing can have closed unless a watermark moved: a late event never opens a window.
        if (_watermarkVersion == _drainedAt || _open.Count == 0)
        {
            return 0;
        }

        _drainedAt = _watermarkVersion;

        var first = into.Count;
        foreach (var ((service, start), open) in _open)
        {
            if (_sources.TryGetValue(open.Source, out var source) && start + _sizeTicks <= source.WatermarkTicks)
            {
                into.Add(new ClosedWindow(service, new DateTimeOffset(start, TimeSpan.Zero), new DateTimeOffset(start + _sizeTicks, TimeSpan.Zero), open.Events));
            }
        }

        for (var i = first; i < into.Count; i++)
        {
            var w = into[i];
            _open.Remove((w.Service, w.Start.UtcTicks));
            w.Events.Epoch++;
        }

        into.Sort(first, into.Count - first, OldestFirst);
        return into.Count - first;
    }

    private void AdvanceWatermarks(long nowTicks)
    {
        var newest = long.MinValue;
        foreach (var (_, source) in _sources)
        {
            newest = Math.Max(newest, source.MaxEventTicks);
        }

        foreach (var id in _sources.Keys)
        {
            ref var source = ref CollectionsMarshal.GetValueRefOrNullRef(_sources, id);
            // Reaching a partition's end is not "done": the producer may only be slower than the others,
            // so only silence for the idle timeout lets a source move with the others.
            var quiet = nowTicks - source.LastSeenTicks >= _idleTicks;
            var basis = quiet ? Math.Max(source.MaxEventTicks, newest) : source.MaxEventTicks;
            if (basis == long.MinValue)
            {
                continue;
            }

            var candidate = basis - allowedLateness.Ticks;
            if (candidate > source.WatermarkTicks)
            {
                // Window ends are multiples of the size, and a window only opens while its end is ahead of its
                // source's watermark: nothing new can close until a watermark crosses a multiple of the size.
                if (Boundary(candidate) != Boundary(source.WatermarkTicks))
                {
                    _watermarkVersion++;
                }

                // The next end this source's watermark can cross, in event time (see Add).
                source = source with { WatermarkTicks = candidate, CrossingTicks = Boundary(candidate) + _sizeTicks + allowedLateness.Ticks };
            }
        }

        var crossingAt = long.MaxValue;
        foreach (var (_, source) in _sources)
        {
            crossingAt = Math.Min(crossingAt, source.CrossingTicks);
        }

        _crossingAt = crossingAt;
    }

    /// <summary>The last window end at or before the watermark.</summary>
    private long Boundary(long watermarkTicks) => watermarkTicks == long.MinValue ? long.MinValue : watermarkTicks - (((watermarkTicks % _sizeTicks) + _sizeTicks) % _sizeTicks);

    /// <param name="CrossingTicks">The event time at which this source's watermark would pass its next window end (until its first event, any).</param>
    private readonly record struct Source(long MaxEventTicks, long LastSeenTicks, long WatermarkTicks, long CrossingTicks);
}

/// <summary>
/// Where a service's latest event went: its window's start, the source that opened it and its accumulator, valid while
/// that accumulator's <see cref="WindowAccumulator.Epoch"/> is unchanged (it moves when the window leaves the open set).
/// </summary>
public readonly struct OpenWindowHint
{
    internal OpenWindowHint(string service, long start, int source, WindowAccumulator events)
    {
        Service = service;
        Start = start;
        Source = source;
        Events = events;
        Epoch = events.Epoch;
    }

    internal string? Service { get; }

    internal long Start { get; }

    internal int Source { get; }

    internal WindowAccumulator? Events { get; }

    internal int Epoch { get; }
}
