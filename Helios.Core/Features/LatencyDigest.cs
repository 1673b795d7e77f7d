namespace Helios.Core.Features;

/// <summary>
/// Latencies of one window with bounded memory. Up to <see cref="ExactLimit"/> values it keeps them
/// all: percentiles are exact with numpy's linear interpolation, mean and population stddev two-pass.
/// Beyond that it folds them into a log-bucketed sketch (DDSketch's scheme): every percentile is
/// within <see cref="RelativeAccuracy"/> (1 %) of the true order statistic, mean and stddev stay
/// exact up to rounding (running Welford moments), and memory stays at a few KB however busy the window.
/// </summary>
public sealed class LatencyDigest(int exactLimit = LatencyDigest.DefaultExactLimit)
{
    public const int DefaultExactLimit = 16_384;
    public const double RelativeAccuracy = 0.01;

    private static readonly double Gamma = (1 + RelativeAccuracy) / (1 - RelativeAccuracy);
    private static readonly double LogGamma = Math.Log(Gamma);

    private double[] _values = new double[16];
    private int[]? _buckets;
    private int _bucketOffset;
    private double _mean;
    private double _m2;

    public int ExactLimit { get; } = exactLimit;

    public int Count { get; private set; }

    /// <summary>True once the window outgrew <see cref="ExactLimit"/> and percentiles come from the sketch.</summary>
    public bool IsSketch => _buckets is not null;

    /// <summary>Empties the digest for another window, keeping its buffer.</summary>
    public void Reset()
    {
        Count = 0;
        _buckets = null;
        _bucketOffset = 0;
        _mean = 0;
        _m2 = 0;
    }

    /// <summary>Adds a positive, finite latency; others are ignored (no latency is not a latency of zero).</summary>
    public void Add(double latencyMs)
    {
        if (!(latencyMs > 0) || !double.IsFinite(latencyMs))
        {
            return;
        }

        if (_buckets is null)
        {
            if (Count == _values.Length)
            {
                if (Count >= ExactLimit)
                {
                    SwitchToSketch();
                    AddToSketch(latencyMs);
                    return;
                }

                Array.Resize(ref _values, Math.Min(_values.Length * 2, ExactLimit));
            }

            _values[Count++] = latencyMs;
            return;
        }

        AddToSketch(latencyMs);
    }

    /// <summary>Mean, population stddev, p50, p95 and p99; zeros when there is no latency.</summary>
    public (double Mean, double Stddev, double P50, double P95, double P99) Summarize()
    {
        if (Count == 0)
        {
            return default;
        }

        if (_buckets is not null)
        {
            return (_mean, Math.Sqrt(_m2 / Count), SketchPercentile(50), SketchPercentile(95), SketchPercentile(99));
        }

        var span = _values.AsSpan(0, Count);
        var (mean, stddev) = Percentiles.MeanStd(span);
        // Percentiles need order; the window is closed when this is asked, so sorting in place is fine.
        span.Sort();
        return (mean, stddev, Percentiles.LinearSorted(span, 50), Percentiles.LinearSorted(span, 95), Percentiles.LinearSorted(span, 99));
    }

    /// <summary>How many latencies exceed the threshold (in the sketch: buckets whose value does, within 1 %).</summary>
    public int CountAbove(double threshold)
    {
        var above = 0;
        if (_buckets is null)
        {
            foreach (var v in _values.AsSpan(0, Count))
            {
                above += v > threshold ? 1 : 0;
            }

            return above;
        }

        for (var i = 0; i < _buckets.Length; i++)
        {
            above += BucketValue(i) > threshold ? _buckets[i] : 0;
        }

        return above;
    }

    /// <summary>Appends the latencies (in the sketch: each bucket's value, as often as it was hit) for pooled statistics.</summary>
    public void AppendTo(List<double> target)
    {
        if (_buckets is null)
        {
            target.AddRange(_values.AsSpan(0, Count));
            return;
        }

        for (var i = 0; i < _buckets.Length; i++)
        {
            for (var k = 0; k < _buckets[i]; k++)
            {
                target.Add(BucketValue(i));
            }
        }
    }

    private void SwitchToSketch()
    {
        _buckets = new int[64];
        _bucketOffset = BucketOf(_values[0]) - 32;
        var values = _values.AsSpan(0, Count);
        var n = Count;
        Count = 0;
        foreach (var v in values)
        {
            AddToSketch(v);
        }

        System.Diagnostics.Debug.Assert(Count == n);
        _values = [];
    }

    private void AddToSketch(double v)
    {
        Count++;
        var delta = v - _mean;
        _mean += delta / Count;
        _m2 += delta * (v - _mean);
        var bucket = BucketOf(v) - _bucketOffset;
        if (bucket < 0 || bucket >= _buckets!.Length)
        {
            Grow(bucket);
            bucket = BucketOf(v) - _bucketOffset;
        }

        _buckets![bucket]++;
    }

    private void Grow(int bucket)
    {
        var buckets = _buckets!;
        var low = Math.Min(0, bucket);
        var high = Math.Max(buckets.Length, bucket + 1);
        var grown = new int[Math.Max(high - low, buckets.Length * 2)];
        Array.Copy(buckets, 0, grown, -low, buckets.Length);
        _bucketOffset += low;
        _buckets = grown;
    }

    private static int BucketOf(double v) => (int)Math.Ceiling(Math.Log(v) / LogGamma);

    /// <summary>The bucket's representative value: within RelativeAccuracy of everything in it.</summary>
    private double BucketValue(int index) => 2 * Math.Pow(Gamma, index + _bucketOffset) / (Gamma + 1);

    private double SketchPercentile(double percent)
    {
        var rank = percent / 100.0 * (Count - 1);
        var lo = (long)Math.Floor(rank);
        var low = ValueAtRank(lo);
        var high = ValueAtRank(Math.Min(lo + 1, Count - 1));
        return low + ((rank - lo) * (high - low));
    }

    private double ValueAtRank(long rank)
    {
        long seen = 0;
        for (var i = 0; i < _buckets!.Length; i++)
        {
            seen += _buckets[i];
            if (seen > rank)
            {
                return BucketValue(i);
            }
        }

        return BucketValue(_buckets.Length - 1);
    }
}
