using System.Runtime.InteropServices;

namespace Helios.Core.Windows;

/// <summary>
/// Which Kafka offsets may be committed without losing anything: per partition, everything below the
/// first offset that a window still open (not yet durably scored) has taken events from. After a crash
/// the group restarts there, so every open window is rebuilt whole; windows already closed are
/// recognised by their stored record and not scored again.
/// </summary>
public sealed class CommitTracker
{
    private readonly Dictionary<int, long> _next = [];

    /// <summary>
    /// Per partition, the offsets windows hold, ascending, a value once per window holding it. Sorted lists, not
    /// trees: a new window's first offset is almost always the largest (appended), and nothing is allocated per window.
    /// </summary>
    private readonly Dictionary<int, List<long>> _pinned = [];

    private readonly Dictionary<(string Service, long Start), Holds> _windows = [];

    /// <summary>An event at this offset was consumed (and either added to a window or handled for good).</summary>
    public void Consumed(int partition, long offset)
    {
        ref var next = ref CollectionsMarshal.GetValueRefOrAddDefault(_next, partition, out var exists);
        if (!exists || offset + 1 > next)
        {
            next = offset + 1;
        }
    }

    /// <summary>An event at this offset went into the window: the window holds its first offset in each partition until it is durable.</summary>
    public void Hold(string service, long windowStartTicks, int partition, long offset)
    {
        Consumed(partition, offset);
        ref var holds = ref CollectionsMarshal.GetValueRefOrAddDefault(_windows, (service, windowStartTicks), out var exists);
        if (!exists)
        {
            holds = new Holds(partition, offset, null);
            Pin(partition, offset);
            return;
        }

        // Events of one service share a partition (the key), so a second partition is rare: it gets a list.
        if (holds.Partition == partition)
        {
            if (offset < holds.Offset)
            {
                Unpin(partition, holds.Offset);
                holds = holds with { Offset = offset };
                Pin(partition, offset);
            }

            return;
        }

        if (holds.Others is null)
        {
            holds = holds with { Others = [] };
        }

        var others = holds.Others!;
        // A loop, not FindIndex: a lambda capturing the parameter would allocate its closure on every call of this method.
        var at = others.Count - 1;
        while (at >= 0 && others[at].Partition != partition)
        {
            at--;
        }

        if (at >= 0 && others[at].Offset <= offset)
        {
            return;
        }

        if (at >= 0)
        {
            Unpin(partition, others[at].Offset);
            others[at] = (partition, offset);
        }
        else
        {
            others.Add((partition, offset));
        }

        Pin(partition, offset);
    }

    /// <summary>The window is durably stored: its offsets no longer need to be re-read.</summary>
    public void Release(string service, long windowStartTicks)
    {
        if (_windows.Remove((service, windowStartTicks), out var holds))
        {
            if (holds.Partition is { } partition)
            {
                Unpin(partition, holds.Offset);
            }

            if (holds.Others is { } others)
            {
                foreach (var (other, offset) in others)
                {
                    Unpin(other, offset);
                }
            }
        }
    }

    /// <summary>The partition is no longer ours: forget it (its open windows are dropped by the caller).</summary>
    public void Forget(int partition)
    {
        _next.Remove(partition);
        _pinned.Remove(partition);
        foreach (var (key, holds) in _windows.ToList())
        {
            var kept = holds.Partition == partition ? holds with { Partition = null } : holds;
            kept.Others?.RemoveAll(h => h.Partition == partition);
            if (kept.Partition is null && kept.Others is not { Count: > 0 })
            {
                _windows.Remove(key);
            }
            else
            {
                _windows[key] = kept;
            }
        }
    }

    /// <summary>The offset to commit for the partition (the next one to read after a restart), or null when nothing was consumed.</summary>
    public long? CommitOffset(int partition)
    {
        if (_pinned.TryGetValue(partition, out var pins) && pins.Count > 0)
        {
            return pins[0];
        }

        return _next.TryGetValue(partition, out var next) ? next : null;
    }

    public IEnumerable<int> Partitions => _next.Keys;

    private void Pin(int partition, long offset)
    {
        if (!_pinned.TryGetValue(partition, out var pins))
        {
            _pinned[partition] = pins = [];
        }

        if (pins.Count == 0 || pins[^1] <= offset)
        {
            pins.Add(offset);
            return;
        }

        var at = pins.BinarySearch(offset);
        pins.Insert(at < 0 ? ~at : at, offset);
    }

    private void Unpin(int partition, long offset)
    {
        if (_pinned.TryGetValue(partition, out var pins))
        {
            var at = pins.BinarySearch(offset);
            if (at >= 0)
            {
                pins.RemoveAt(at);
            }
        }
    }

    /// <summary>A window's held offsets: the first from its (usual) one partition inline, any other partitions' in a list.</summary>
    private readonly record struct Holds(int? Partition, long Offset, List<(int Partition, long Offset)>? Others);
}
