namespace Helios.Core.Detection;

/// <summary>One closed window's surprise (<see cref="SurpriseGuard.Score"/>), with where it belongs.</summary>
public readonly record struct WindowSurprise(string Service, long StartTicks, double Surprise);

/// <summary>
/// The corroborated surprise of a window and what carried it: Windows = how many consecutive windows
/// of the service (1 to 3), Peers = how many other services of the same slot (0 when its own history won).
/// </summary>
public readonly record struct Evidence(double Value, int Windows, int Peers);

/// <summary>
/// The streaming form of <see cref="SurpriseGuard.Corroborated"/>: remembers each service's last two
/// window surprises and, per slot, the surprises of every window closed in it, so a closed window is
/// judged with its own history and with the other services' windows of the same slot that closed in
/// the same batch or earlier. A batch holding a whole slot gives exactly the offline guard's value.
/// Per window the cost is O(1) after an O(n log n) pass over each slot the batch touched: the peer term
/// (j + 1) min(s, p_j) - log10 C(n, j) splits at the window's own rank into a part that depends on s
/// only, convex in j (its maximum is at an end), and a part that depends on the slot only (a suffix maximum).
/// </summary>
public sealed class EvidenceTracker(TimeSpan windowSize, int slotsKept = 12)
{
    private const int SparesKept = 2;
    private readonly long _size = windowSize.Ticks;
    private readonly Dictionary<string, History> _history = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Slot> _slots = [];

    /// <summary>Pruned slots, reused with their tables for the next slots (a slot is pruned as a new one starts: two are plenty).</summary>
    private readonly Stack<Slot> _spare = new(SparesKept);
    private long _newest = long.MinValue;

    /// <summary>Slots currently remembered (for tests and memory checks).</summary>
    public int Slots => _slots.Count;

    /// <summary>Makes a window recorded before (by an earlier run) part of the service's history.</summary>
    public void Remember(string service, long startTicks, double surprise)
    {
        if (!_history.TryGetValue(service, out var h))
        {
            _history[service] = h = new History();
        }

        h.Add(startTicks, surprise);
    }

    /// <summary>Forgets everything (another member may have moved services on; history is reloaded from the store).</summary>
    public void Clear()
    {
        _history.Clear();
        foreach (var slot in _slots.Values)
        {
            Release(slot);
        }

        _slots.Clear();
        _newest = long.MinValue;
    }

    /// <summary>The evidence of each window of the batch, in the batch's order.</summary>
    public void Evaluate(IReadOnlyList<WindowSurprise> batch, Span<Evidence> evidence)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(evidence.Length, batch.Count, nameof(evidence));
        foreach (var w in batch)
        {
            if (!_slots.TryGetValue(w.StartTicks, out var slot))
            {
                _slots[w.StartTicks] = slot = _spare.TryPop(out var spare) ? spare : new Slot();
            }

            slot.Add(w.Surprise);
            _newest = Math.Max(_newest, w.StartTicks);
        }

        // Oldest first, so a batch with two windows of one service sees the first as the second's history.
        var order = new int[batch.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) => batch[a].StartTicks.CompareTo(batch[b].StartTicks));
        foreach (var i in order)
        {
            var w = batch[i];
            if (!_history.TryGetValue(w.Service, out var h))
            {
                _history[w.Service] = h = new History();
            }

            var previous = h.At(w.StartTicks - _size);
            var beforePrevious = h.At(w.StartTicks - (2 * _size));
            evidence[i] = Combine(w.Surprise, previous, beforePrevious, _slots[w.StartTicks]);
            h.Add(w.StartTicks, w.Surprise);
        }

        Prune();
    }

    private static Evidence Combine(double current, double previous, double beforePrevious, Slot slot)
    {
        var best = new Evidence(current, 1, 0);
        var two = 2 * Math.Min(current, previous);
        if (two > best.Value)
        {
            best = new Evidence(two, 2, 0);
        }

        var three = 3 * Math.Min(current, Math.Min(previous, beforePrevious));
        if (three > best.Value)
        {
            best = new Evidence(three, 3, 0);
        }

        var (value, peers) = slot.PeerTerm(current);
        return value > best.Value ? new Evidence(value, 1, peers) : best;
    }

    private void Prune()
    {
        if (_slots.Count <= slotsKept)
        {
            return;
        }

        var oldest = _newest - ((slotsKept - 1) * _size);
        foreach (var start in _slots.Keys.Where(s => s < oldest).ToList())
        {
            _slots.Remove(start, out var slot);
            Release(slot!);
        }
    }

    private void Release(Slot slot)
    {
        if (_spare.Count < SparesKept)
        {
            slot.Reset();
            _spare.Push(slot);
        }
    }

    /// <summary>The last two windows of one service.</summary>
    private sealed class History
    {
        private long _start1 = long.MinValue, _start2 = long.MinValue;
        private double _surprise1, _surprise2;

        public void Add(long start, double surprise)
        {
            if (start == _start1 || start == _start2)
            {
                return;
            }

            if (start > _start1)
            {
                (_start2, _surprise2) = (_start1, _surprise1);
                (_start1, _surprise1) = (start, surprise);
            }
            else if (start > _start2)
            {
                (_start2, _surprise2) = (start, surprise);
            }
        }

        public double At(long start) => start == _start1 ? _surprise1 : start == _start2 ? _surprise2 : 0;
    }

    /// <summary>
    /// Every window of one slot: surprises sorted in descending order, with the peer-term tables rebuilt on demand. The
    /// tables are kept and grown, not allocated per rebuild, and a pruned slot is reused for a new one: a slot of 10,000
    /// windows is rebuilt after each batch that adds to it, and its suffix table alone (160 KB) was large-object-heap
    /// garbage each time, collected only by full collections.
    /// </summary>
    private sealed class Slot
    {
        private readonly List<double> _values = [];

        /// <summary>The first <see cref="_count"/> entries: the slot's surprises as of the last rebuild, descending.</summary>
        private double[] _sorted = [];

        /// <summary>logChoose[j] = log10 C(n, j) for n = windows - 1 peers.</summary>
        private double[] _logChoose = [];

        /// <summary>suffix[j] = max over j' >= j of (j' + 1) S[j' + 1] - log10 C(n, j'), with its j' (1-based peers).</summary>
        private (double Value, int Peers)[] _suffix = [];
        private int _count;
        private bool _dirty;

        public void Add(double surprise)
        {
            _values.Add(surprise);
            _dirty = true;
        }

        /// <summary>Empties the slot for reuse, keeping its tables' memory.</summary>
        public void Reset()
        {
            _values.Clear();
            _count = 0;
            _dirty = false;
        }

        /// <summary>max over j of (j + 1) min(s, p_j) - log10 C(n, j) over the n other windows of the slot, and the j that reaches it.</summary>
        public (double Value, int Peers) PeerTerm(double s)
        {
            if (_dirty)
            {
                Rebuild();
            }

            var n = _count - 1;
            if (n < 1)
            {
                return (double.NegativeInfinity, 0);
            }

            // k = this window's 1-based rank among all n + 1: peers before it are >= s, peers from it on are <= s.
            var k = FirstIndexOf(s) + 1;
            var best = (Value: double.NegativeInfinity, Peers: 0);
            if (k > 1)
            {
                // j < k: min(s, p_j) = s, and (j + 1) s - log10 C(n, j) is convex in j, so the best is at j = 1 or j = k - 1.
                var first = (2 * s) - _logChoose[1];
                var last = (k * s) - _logChoose[k - 1];
                best = last > first ? (last, k - 1) : (first, 1);
            }

            if (k <= n && _suffix[k].Value > best.Value)
            {
                best = _suffix[k];
            }

            return best;
        }

        private void Rebuild()
        {
            _count = _values.Count;
            if (_sorted.Length < _count)
            {
                _sorted = new double[_count];
                _logChoose = new double[_count];
                _suffix = new (double, int)[_count + 1];
            }

            var sorted = _sorted.AsSpan(0, _count);
            _values.CopyTo(sorted);
            sorted.Sort();
            sorted.Reverse();
            // A slot is rebuilt only after an Add, so it holds one window at least; logChoose[0] = log10 C(n, 0) = 0 is never written.
            var n = _count - 1;
            for (var j = 1; j <= n; j++)
            {
                _logChoose[j] = _logChoose[j - 1] + Math.Log10((double)(n - j + 1) / j);
            }

            _suffix[n + 1] = (double.NegativeInfinity, 0);
            for (var j = n; j >= 1; j--)
            {
                // Peer j (1-based, own window removed) is sorted[j] (0-based) once j is at or past the own rank.
                var term = ((j + 1) * _sorted[j]) - _logChoose[j];
                _suffix[j] = term > _suffix[j + 1].Value ? (term, j) : _suffix[j + 1];
            }

            _dirty = false;
        }

        /// <summary>0-based index of the first occurrence of s in the descending array (s is one of its values).</summary>
        private int FirstIndexOf(double s)
        {
            int lo = 0, hi = _count - 1;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (_sorted[mid] > s)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            return lo;
        }
    }
}
