namespace Helios.Core.Detection;

public sealed partial class IsolationForest
{
    // Training rows that reached each node, recovered once from the leaves (leaf value = depth +
    // c(size)) so attribution can weigh each split by how much of the sample it cut away.
    private int[]? _nodeSizes;

    /// <summary>
    /// Depth-based attribution along isolation paths. Each tree that isolates the row earlier than
    /// average (path length below c(psi)) contributes weight c(psi) - h(x); that weight is spread
    /// over the features split on along the row's path in proportion to the bits of isolation each
    /// split gave, log2(rows at the node / rows on the row's side). Trees that isolate the row no
    /// earlier than average add nothing. Adds into <paramref name="weights"/> (one slot per
    /// feature) and returns the total added, 0 when no tree isolated the row early.
    /// Walks each path twice rather than buffering it, so it allocates nothing.
    /// </summary>
    internal double AccumulatePathAttribution(ReadOnlySpan<double> row, Span<double> weights)
    {
        if (row.Length != Features || weights.Length < Features)
        {
            throw new ArgumentException($"Expected {Features} features and as many weight slots.", nameof(row));
        }

        var nodes = Nodes;
        var sizes = NodeSizes();
        var average = AveragePathLength(SamplesPerTree);
        double total = 0;
        foreach (var root in Roots)
        {
            var i = root;
            while (nodes[i].Feature >= 0)
            {
                i = row[nodes[i].Feature] <= nodes[i].Value ? i + 1 : nodes[i].Right;
            }

            var earlier = average - nodes[i].Value;
            var bits = Math.Log2((double)sizes[root] / sizes[i]);
            if (earlier <= 0 || bits <= 0)
            {
                continue;
            }

            var perBit = earlier / bits;
            i = root;
            while (nodes[i].Feature >= 0)
            {
                var feature = nodes[i].Feature;
                var next = row[feature] <= nodes[i].Value ? i + 1 : nodes[i].Right;
                weights[feature] += perBit * Math.Log2((double)sizes[i] / sizes[next]);
                i = next;
            }

            total += earlier;
        }

        return total;
    }

    internal int[] NodeSizes()
    {
        if (_nodeSizes is { } cached)
        {
            return cached;
        }

        var nodes = Nodes;
        var depth = new int[nodes.Length];
        var sizes = new int[nodes.Length];
        // Pre-order: children always sit after their parent, so a forward pass fixes depths and a
        // backward pass sums sizes bottom-up.
        for (var i = 0; i < nodes.Length; i++)
        {
            if (nodes[i].Feature >= 0)
            {
                depth[i + 1] = depth[i] + 1;
                depth[nodes[i].Right] = depth[i] + 1;
            }
        }

        for (var i = nodes.Length - 1; i >= 0; i--)
        {
            sizes[i] = nodes[i].Feature >= 0 ? sizes[i + 1] + sizes[nodes[i].Right] : LeafSize(nodes[i].Value - depth[i]);
        }

        _nodeSizes = sizes;
        return sizes;
    }

    /// <summary>Inverts c(size) for a leaf; c is increasing from size 2 on, so a binary search finds it.</summary>
    private int LeafSize(double c)
    {
        if (c < 0.5)
        {
            return 1;
        }

        int lo = 2, hi = Math.Max(2, SamplesPerTree);
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (AveragePathLength(mid) < c - 1e-9)
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
