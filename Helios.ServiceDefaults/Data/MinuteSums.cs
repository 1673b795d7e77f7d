using System.Runtime.InteropServices;
using Helios.Core.Events;

namespace Helios.ServiceDefaults.Data;

/// <summary>
/// The per-minute sums (per service and minute: events, errors, latencies counted, summed and their maximum) of the
/// events a storage member read, kept per partition over several batches until <see cref="EventWriter.WriteSumsAsync"/>
/// adds them to the aggregates and moves the partition's sums ledger. A partition's sums always cover one unbroken run
/// of its messages, [<see cref="PartitionSums.First"/>, <see cref="PartitionSums.Next"/>): a batch that does not start
/// where the partition's last one ended (the consumer put back at the committed offset by a rebalance) starts them anew.
/// Batches are added on the consume loop, before their writes sort them.
/// </summary>
public sealed class MinuteSums
{
    private readonly Dictionary<int, PartitionSums> _partitions = [];
    private readonly Stack<PartitionSums> _spare = new(); // emptied partitions, reused with their tables

    public IReadOnlyDictionary<int, PartitionSums> Partitions => _partitions;

    public void Add(EventBatch batch)
    {
        foreach (var (partition, position) in batch.Consumed)
        {
            ref var sums = ref CollectionsMarshal.GetValueRefOrAddDefault(_partitions, partition, out var known);
            if (!known)
            {
                sums = _spare.TryPop(out var spare) ? spare : new PartitionSums();
            }

            if (!known || sums!.Next != position.First)
            {
                sums!.Restart(position.First);
            }

            sums.Next = position.Next;
        }

        PartitionSums? current = null;
        var currentPartition = -1;
        foreach (var row in CollectionsMarshal.AsSpan(batch.Events))
        {
            if (row.Partition != currentPartition)
            {
                (current, currentPartition) = (_partitions[row.Partition], row.Partition);
            }

            current!.Add(row.Event);
        }
    }

    public void Clear()
    {
        foreach (var sums in _partitions.Values)
        {
            sums.Restart(0);
            _spare.Push(sums);
        }

        _partitions.Clear();
    }
}

/// <summary>One partition's sums: those of the events of its messages from <see cref="First"/> to before <see cref="Next"/>.</summary>
public sealed class PartitionSums
{
    internal Dictionary<MinuteKey, MinuteTotals> Minutes { get; } = [];

    public long First { get; private set; }

    public long Next { get; internal set; }

    /// <summary>The earliest and latest event time summed (ticks): where a recount from <c>events</c> looks.</summary>
    public long MinTicks { get; private set; } = long.MaxValue;

    public long MaxTicks { get; private set; } = long.MinValue;

    internal void Restart(long first)
    {
        Minutes.Clear();
        (First, Next, MinTicks, MaxTicks) = (first, first, long.MaxValue, long.MinValue);
    }

    internal void Add(in EventFields e)
    {
        var minute = e.TimestampTicks - (e.TimestampTicks % TimeSpan.TicksPerMinute);
        ref var m = ref CollectionsMarshal.GetValueRefOrAddDefault(Minutes, new MinuteKey(e.Service, minute), out _);
        m.Events++;
        if (e.Level >= EventLevel.Error)
        {
            m.Errors++;
        }

        if (!double.IsNaN(e.LatencyMs))
        {
            m.LatencyMax = m.LatencyCount == 0 ? e.LatencyMs : Math.Max(m.LatencyMax, e.LatencyMs);
            m.LatencyCount++;
            m.LatencySum += e.LatencyMs;
        }

        MinTicks = Math.Min(MinTicks, e.TimestampTicks);
        MaxTicks = Math.Max(MaxTicks, e.TimestampTicks);
    }
}

internal readonly record struct MinuteKey(string Service, long MinuteTicks);

internal struct MinuteTotals
{
    public long Events;
    public long Errors;
    public long LatencyCount;
    public double LatencySum;
    public double LatencyMax;
}
