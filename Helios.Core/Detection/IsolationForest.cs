using System.Runtime.InteropServices;

namespace Helios.Core.Detection;

public sealed record IsolationForestOptions
{
    public int Trees { get; init; } = 100;

    /// <summary>Rows per tree; scikit-learn's 'auto' is min(256, n).</summary>
    public int MaxSamples { get; init; } = 256;

    public double Contamination { get; init; } = 0.05;

    public ulong Seed { get; init; } = 42;

    /// <summary>1 = single thread; 0 or less = all cores.</summary>
    public int MaxDegreeOfParallelism { get; init; }
}

/// <summary>
/// Isolation Forest with scikit-learn's semantics: psi = min(MaxSamples, n) rows per tree drawn
/// without replacement, depth limit ceil(log2 psi), a random non-constant feature and a uniform
/// split in [min, max) per node, x &lt;= threshold goes left, path length = depth + c(leaf size),
/// score_samples = -2^(-E[h]/c(psi)) and decision = score_samples - offset (negative = anomaly).
/// Trees live in one flat node array in pre-order: the left child of node i is i + 1.
/// </summary>
public sealed partial class IsolationForest
{
    [StructLayout(LayoutKind.Sequential)]
    public readonly record struct Node(int Feature, int Right, double Value)
    {
        public bool IsLeaf => Feature < 0;
    }

    private readonly Node[] _nodes;
    private readonly int[] _roots;

    internal IsolationForest(Node[] nodes, int[] roots, int features, int samplesPerTree, double offset)
    {
        _nodes = nodes;
        _roots = roots;
        Features = features;
        SamplesPerTree = samplesPerTree;
        Offset = offset;
        _normalizer = 1.0 / (roots.Length * AveragePathLength(samplesPerTree));
    }

    private readonly double _normalizer;

    public int Features { get; }

    public int SamplesPerTree { get; }

    public int Trees => _roots.Length;

    /// <summary>The contamination quantile of the training scores (scikit-learn's offset_).</summary>
    public double Offset { get; }

    internal ReadOnlySpan<Node> Nodes => _nodes;

    internal ReadOnlySpan<int> Roots => _roots;

    /// <summary>c(n): average path length of an unsuccessful BST search, as scikit-learn defines it.</summary>
    public static double AveragePathLength(double n) => n switch
    {
        <= 1 => 0,
        <= 2 => 1,
        _ => (2.0 * (Math.Log(n - 1) + 0.5772156649015329)) - (2.0 * (n - 1) / n),
    };

    public static IsolationForest Fit(double[] rows, int features, IsolationForestOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 1);
        if (rows.Length == 0 || rows.Length % features != 0)
        {
            throw new ArgumentException($"Expected a non-empty row-major matrix with {features} columns.", nameof(rows));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(options.Trees, 1);
        if (options.Contamination is <= 0 or > 0.5)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "Contamination must be in (0, 0.5].");
        }

        var n = rows.Length / features;
        var psi = Math.Min(options.MaxSamples, n);
        var maxDepth = (int)Math.Ceiling(Math.Log2(Math.Max(psi, 2)));
        var trees = new Node[options.Trees][];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism > 0 ? options.MaxDegreeOfParallelism : -1 };
        Parallel.For(0, options.Trees, parallel, t =>
        {
            var rng = Xoshiro256.ForStream(options.Seed, (ulong)t);
            trees[t] = BuildTree(rows, features, n, psi, maxDepth, ref rng);
        });

        var roots = new int[trees.Length];
        var nodes = new Node[trees.Sum(t => t.Length)];
        var at = 0;
        for (var t = 0; t < trees.Length; t++)
        {
            roots[t] = at;
            foreach (var node in trees[t])
            {
                nodes[at++] = node.IsLeaf ? node : node with { Right = node.Right + roots[t] };
            }
        }

        var forest = new IsolationForest(nodes, roots, features, psi, 0);
        var scores = new double[n];
        forest.ScoreSamples(rows, scores, options.MaxDegreeOfParallelism);
        var offset = Helios.Core.Features.Percentiles.Linear(scores, 100.0 * options.Contamination);
        return new IsolationForest(nodes, roots, features, psi, offset);
    }

    private static Node[] BuildTree(double[] rows, int features, int n, int psi, int maxDepth, ref Xoshiro256 rng)
    {
        var sample = SampleWithoutReplacement(n, psi, ref rng);
        var nodes = new List<Node>(2 * psi);
        // Depth-first, left popped first, so a left child always directly follows its parent.
        var stack = new Stack<(int Start, int End, int Depth, int RightOf)>();
        stack.Push((0, psi, 0, -1));
        Span<int> candidates = stackalloc int[features];
        while (stack.Count > 0)
        {
            var (start, end, depth, rightOf) = stack.Pop();
            var index = nodes.Count;
            if (rightOf >= 0)
            {
                nodes[rightOf] = nodes[rightOf] with { Right = index };
            }

            var size = end - start;
            if (depth >= maxDepth || size < 2 || !TryChooseSplit(rows, features, sample, start, end, candidates, ref rng, out var feature, out var threshold))
            {
                nodes.Add(new Node(-1, 0, depth + AveragePathLength(size)));
                continue;
            }

            // Partition: x <= threshold to the left.
            int i = start, j = end - 1;
            while (i <= j)
            {
                if (rows[(sample[i] * features) + feature] <= threshold)
                {
                    i++;
                }
                else
                {
                    (sample[i], sample[j]) = (sample[j], sample[i]);
                    j--;
                }
            }

            nodes.Add(new Node(feature, -1, threshold));
            stack.Push((i, end, depth + 1, index));
            stack.Push((start, i, depth + 1, -1));
        }

        return [.. nodes];
    }

    /// <summary>Draws features without replacement until one is not constant in the node, like scikit-learn's random splitter.</summary>
    private static bool TryChooseSplit(double[] rows, int features, int[] sample, int start, int end, Span<int> candidates, ref Xoshiro256 rng, out int feature, out double threshold)
    {
        for (var f = 0; f < features; f++)
        {
            candidates[f] = f;
        }

        for (var remaining = features; remaining > 0; remaining--)
        {
            var pick = rng.NextInt(remaining);
            feature = candidates[pick];
            candidates[pick] = candidates[remaining - 1];
            double min = double.PositiveInfinity, max = double.NegativeInfinity;
            for (var k = start; k < end; k++)
            {
                var v = rows[(sample[k] * features) + feature];
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }

            if (max - min > 1e-7)
            {
                threshold = min + (rng.NextDouble() * (max - min));
                if (threshold >= max)
                {
                    threshold = min;
                }

                return true;
            }
        }

        feature = -1;
        threshold = 0;
        return false;
    }

    private static int[] SampleWithoutReplacement(int n, int k, ref Xoshiro256 rng)
    {
        if (k * 4L >= n)
        {
            var all = new int[n];
            for (var i = 0; i < n; i++)
            {
                all[i] = i;
            }

            for (var i = 0; i < k; i++)
            {
                var j = i + rng.NextInt(n - i);
                (all[i], all[j]) = (all[j], all[i]);
            }

            return all[..k];
        }

        var chosen = new HashSet<int>(k);
        var result = new int[k];
        for (var i = 0; i < k;)
        {
            var candidate = rng.NextInt(n);
            if (chosen.Add(candidate))
            {
                result[i++] = candidate;
            }
        }

        return result;
    }

    /// <summary>Mean path length E[h(x)] over the trees.</summary>
    public double MeanPathLength(ReadOnlySpan<double> row)
    {
        if (row.Length != Features)
        {
            throw new ArgumentException($"Expected {Features} features, got {row.Length}.", nameof(row));
        }

        ref var nodes = ref MemoryMarshal.GetArrayDataReference(_nodes);
        double sum = 0;
        foreach (var root in _roots)
        {
            var i = root;
            while (true)
            {
                var node = Unsafe(ref nodes, i);
                if (node.Feature < 0)
                {
                    sum += node.Value;
                    break;
                }

                i = row[node.Feature] <= node.Value ? i + 1 : node.Right;
            }
        }

        return sum / _roots.Length;
    }

    private static Node Unsafe(ref Node nodes, int i) => System.Runtime.CompilerServices.Unsafe.Add(ref nodes, i);

    /// <summary>scikit-learn's score_samples: in (-1, 0), lower is more anomalous.</summary>
    public double ScoreSample(ReadOnlySpan<double> row)
    {
        var meanDepth = MeanPathLength(row);
        return -Math.Pow(2, -meanDepth * _roots.Length * _normalizer);
    }

    public double Decision(ReadOnlySpan<double> row) => ScoreSample(row) - Offset;

    public void ScoreSamples(double[] rows, Span<double> scores, int maxDegreeOfParallelism = 0)
    {
        var n = rows.Length / Features;
        if (scores.Length < n)
        {
            throw new ArgumentException("Output span is shorter than the number of rows.", nameof(scores));
        }

        if (maxDegreeOfParallelism == 1 || n < 2048)
        {
            for (var r = 0; r < n; r++)
            {
                scores[r] = ScoreSample(rows.AsSpan(r * Features, Features));
            }

            return;
        }

        var output = new double[n];
        var chunk = 1024;
        Parallel.For(0, (n + chunk - 1) / chunk, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism > 0 ? maxDegreeOfParallelism : -1 }, c =>
        {
            var end = Math.Min(n, (c + 1) * chunk);
            for (var r = c * chunk; r < end; r++)
            {
                output[r] = ScoreSample(rows.AsSpan(r * Features, Features));
            }
        });
        output.CopyTo(scores);
    }

    /// <summary>Recreates a forest from its stored parts (see <see cref="ModelSerializer"/>).</summary>
    internal static IsolationForest FromParts(Node[] nodes, int[] roots, int features, int samplesPerTree, double offset) =>
        new(nodes, roots, features, samplesPerTree, offset);
}
