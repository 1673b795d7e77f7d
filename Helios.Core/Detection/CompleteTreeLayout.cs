using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Helios.Core.Detection;

/// <summary>
/// The forest re-laid for scoring: every tree as a complete binary tree of the forest's depth
/// limit, internal splits in breadth-first order (children of i at 2i+1 and 2i+2) and leaves after
/// them. A leaf above the last level is padded with always-left splits whose leaves all carry its
/// value, so every row takes exactly Depth steps per tree with no data-dependent branch, and one
/// tree (about 6 KB at psi 256) stays in L1 while a block of rows runs through it.
/// Results are bit-identical to walking the pre-order nodes: same comparisons, same summation order.
/// </summary>
internal sealed class CompleteTreeLayout
{
    /// <summary>Deeper trees (psi above 4096) would waste memory on padding; they use the pre-order walk.</summary>
    public const int MaxDepth = 12;

    /// <summary>Rows per block: their features (BlockRows x features doubles) stay in L1 next to one tree.</summary>
    private const int BlockRows = 64;

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct Split(double Threshold, int Feature);

    private readonly Split[] _splits;
    private readonly double[] _leaves;
    private readonly int _internalPerTree;
    private readonly int _leavesPerTree;

    private CompleteTreeLayout(Split[] splits, double[] leaves, int depth, int trees, int features)
    {
        _splits = splits;
        _leaves = leaves;
        Depth = depth;
        Trees = trees;
        Features = features;
        _internalPerTree = (1 << depth) - 1;
        _leavesPerTree = 1 << depth;
    }

    public int Depth { get; }

    public int Trees { get; }

    public int Features { get; }

    /// <summary>Builds the layout, or returns null when a tree is deeper than <see cref="MaxDepth"/>.</summary>
    public static CompleteTreeLayout? TryBuild(ReadOnlySpan<IsolationForest.Node> nodes, ReadOnlySpan<int> roots, int features)
    {
        var depth = 0;
        foreach (var root in roots)
        {
            depth = Math.Max(depth, TreeDepth(nodes, root));
        }

        if (depth > MaxDepth)
        {
            return null;
        }

        var internalPerTree = (1 << depth) - 1;
        var leavesPerTree = 1 << depth;
        var splits = new Split[roots.Length * internalPerTree];
        var leaves = new double[roots.Length * leavesPerTree];
        for (var t = 0; t < roots.Length; t++)
        {
            Fill(nodes, roots[t], 0, depth, splits.AsSpan(t * internalPerTree, internalPerTree), leaves.AsSpan(t * leavesPerTree, leavesPerTree), internalPerTree);
        }

        return new CompleteTreeLayout(splits, leaves, depth, roots.Length, features);
    }

    private static int TreeDepth(ReadOnlySpan<IsolationForest.Node> nodes, int i)
    {
        // Pre-order with left child at i + 1: walk with an explicit stack of (node, depth).
        var max = 0;
        Span<(int Node, int Depth)> stack = stackalloc (int, int)[64];
        var top = 0;
        stack[top++] = (i, 0);
        while (top > 0)
        {
            var (node, depth) = stack[--top];
            if (nodes[node].IsLeaf)
            {
                max = Math.Max(max, depth);
                continue;
            }

            stack[top++] = (node + 1, depth + 1);
            stack[top++] = (nodes[node].Right, depth + 1);
        }

        return max;
    }

    private static void Fill(ReadOnlySpan<IsolationForest.Node> nodes, int node, int slot, int levelsLeft, Span<Split> splits, Span<double> leaves, int internalCount)
    {
        var current = nodes[node];
        if (levelsLeft == 0)
        {
            leaves[slot - internalCount] = current.Value;
            return;
        }

        if (current.IsLeaf)
        {
            // Pad: an always-left split (x <= +inf; a NaN goes right and finds the same value) over copies of this leaf.
            splits[slot] = new Split(double.PositiveInfinity, 0);
            Fill(nodes, node, (2 * slot) + 1, levelsLeft - 1, splits, leaves, internalCount);
            Fill(nodes, node, (2 * slot) + 2, levelsLeft - 1, splits, leaves, internalCount);
            return;
        }

        splits[slot] = new Split(current.Value, current.Feature);
        Fill(nodes, node + 1, (2 * slot) + 1, levelsLeft - 1, splits, leaves, internalCount);
        Fill(nodes, current.Right, (2 * slot) + 2, levelsLeft - 1, splits, leaves, internalCount);
    }

    /// <summary>Sum over trees of the path length (depth + c(leaf size)) for each row of rows[first..end).</summary>
    public void SumPathLengths(ReadOnlySpan<double> rows, int first, int end, Span<double> sums)
    {
        Span<double> block = stackalloc double[BlockRows];
        for (var start = first; start < end; start += BlockRows)
        {
            var count = Math.Min(BlockRows, end - start);
            block[..count].Clear();
            SumBlock(rows.Slice(start * Features, count * Features), count, block);
            block[..count].CopyTo(sums[(start - first)..]);
        }
    }

    /// <summary>
    /// Tree-major over the block and level by level across its rows: the rows' steps within a level
    /// are independent, so the core overlaps their loads instead of waiting on one row's chain of
    /// split, feature value and compare at every level.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SumBlock(ReadOnlySpan<double> rows, int count, Span<double> sums)
    {
        ref var row0 = ref MemoryMarshal.GetReference(rows);
        ref var sum0 = ref MemoryMarshal.GetReference(sums);
        ref var splits = ref MemoryMarshal.GetArrayDataReference(_splits);
        ref var leaves = ref MemoryMarshal.GetArrayDataReference(_leaves);
        Span<int> position = stackalloc int[BlockRows];
        ref var index0 = ref MemoryMarshal.GetReference(position);
        var features = Features;
        var depth = Depth;
        var internalCount = _internalPerTree;
        var quads = count & ~3;
        for (var t = 0; t < Trees; t++)
        {
            ref var tree = ref Unsafe.Add(ref splits, t * internalCount);
            ref var leaf = ref Unsafe.Add(ref leaves, (t * _leavesPerTree) - internalCount);
            position[..count].Clear();
            for (var d = 0; d < depth; d++)
            {
                ref var x = ref row0;
                var r = 0;
                for (; r < quads; r += 4)
                {
                    ref var i = ref Unsafe.Add(ref index0, r);
                    i = Step(ref tree, ref x, i);
                    ref var x1 = ref Unsafe.Add(ref x, features);
                    Unsafe.Add(ref i, 1) = Step(ref tree, ref x1, Unsafe.Add(ref i, 1));
                    ref var x2 = ref Unsafe.Add(ref x1, features);
                    Unsafe.Add(ref i, 2) = Step(ref tree, ref x2, Unsafe.Add(ref i, 2));
                    ref var x3 = ref Unsafe.Add(ref x2, features);
                    Unsafe.Add(ref i, 3) = Step(ref tree, ref x3, Unsafe.Add(ref i, 3));
                    x = ref Unsafe.Add(ref x3, features);
                }

                for (; r < count; r++)
                {
                    ref var i = ref Unsafe.Add(ref index0, r);
                    i = Step(ref tree, ref x, i);
                    x = ref Unsafe.Add(ref x, features);
                }
            }

            for (var r = 0; r < count; r++)
            {
                Unsafe.Add(ref sum0, r) += Unsafe.Add(ref leaf, Unsafe.Add(ref index0, r));
            }
        }
    }

    /// <summary>One level: left child 2i+1 when x[feature] &lt;= threshold, else right child 2i+2 (a NaN goes right, as in the node walk).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Step(ref Split tree, ref double x, int i)
    {
        ref readonly var split = ref Unsafe.Add(ref tree, i);
        return (2 * i) + 1 + (Unsafe.Add(ref x, split.Feature) <= split.Threshold ? 0 : 1);
    }
}
