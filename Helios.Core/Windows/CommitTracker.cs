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
    private readonly Dictionary<int, SortedDictionary<long, int>> _pinned = [];
    private readonly Dictionary<(string Service, long Start), List<(int Partition, long Offset)>> _windows = [];

    /// <summary>An event at this offset was consumed (and either added to a window or handled for good).</summary>
    public void Consumed(int partition, long offset)
    {
        if (!_next.TryGetValue(partition, out var next) || offset + 1 > next)
        {
            _next[partition] = offset + 1;
        }
    }

    /// <summary>An event at this offset went into the window: the window holds its first offset in each partition until it is durable.</summary>
    public void Hold(string service, long windowStartTicks, int partition, long offset)
    {
        Consumed(partition, offset);
        ref var holds = ref CollectionsMarshal.GetValueRefOrAddDefault(_windows, (service, windowStartTicks), out var exists);
        if (!exists)
        {
            holds = new List<(int, long)>(1);
        }

        // Events of one service share a partition (the key), so this is almost always one entry.
        var at = -1;
        for (var i = 0; i < holds!.Count; i++)
        {
            if (holds[i].Partition == partition)
            {
                at = i;
                break;
            }
        }

        if (at >= 0 && holds[at].Offset <= offset)
        {
            return;
        }

        if (at >= 0)
        {
            Unpin(partition, holds[at].Offset);
            holds[at] = (partition, offset);
        }
        else
        {
            holds.Add((partition, offset));
        }

        Pin(partition, offset);
    }

    /// <summary>The window is durably stored: its offsets no longer need to be re-read.</summary>
    public void Release(string service, long windowStartTicks)
    {
        if (_windows.Remove((service, windowStartTicks), out var holds))
        {
            foreach (var (partition, offset) in holds)
            {
                Unpin(partition, offset);
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
            holds.RemoveAll(h => h.Partition == partition);
            if (holds.Count == 0)
            {
                _windows.Remove(key);
            }
        }
    }

    /// <summary>The offset to commit for the partition (the next one to read after a restart), or null when nothing was consumed.</summary>
    public long? CommitOffset(int partition)
    {
        if (_pinned.TryGetValue(partition, out var pins) && pins.Count > 0)
        {
            return pins.Keys.First();
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

        pins[offset] = pins.GetValueOrDefault(offset) + 1;
    }

    private void Unpin(int partition, long offset)
    {
        if (_pinned.TryGetValue(partition, out var pins) && pins.TryGetValue(offset, out var count))
        {
            if (count <= 1)
            {
                pins.Remove(offset);
            }
            else
            {
                pins[offset] = count - 1;
            }
        }
    }
}
