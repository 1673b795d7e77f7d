using Helios.Core.Events;
using Helios.Core.Windows;

namespace Helios.Core.Features;

/// <summary>
/// Event-window features. Training, /predict and the streaming detector all fill a
/// <see cref="WindowAccumulator"/> and call <see cref="For"/> (or <see cref="WindowAccumulator.ToFeatures()"/>
/// for the seed's seven): there is no second implementation to drift from (the seeds' train/serve skew).
/// </summary>
public static class EventWindowFeatures
{
    /// <summary>The seed's seven (events v1).</summary>
    public static readonly FeatureSchema SeedSchema = new("events", 1,
    [
        "total_events", "error_rate", "avg_latency", "p95_latency", "p99_latency", "latency_stddev", "unique_endpoints",
    ]);

    /// <summary>
    /// events v2: the seed's seven, then four features relative to the service's own baseline
    /// (stored with the model), chosen by the chaos benchmark's ablation.
    /// </summary>
    public static readonly FeatureSchema Schema = new("events", 2,
    [
        .. SeedSchema.Features, "log_rate_ratio", "rate_surprise", "error_surprise", "slow_surprise", "log_p50_ratio",
    ]);

    public const int TotalEvents = 0;
    public const int ErrorRate = 1;
    public const int AvgLatency = 2;
    public const int P95Latency = 3;
    public const int P99Latency = 4;
    public const int LatencyStddev = 5;
    public const int UniqueEndpoints = 6;
    public const int LogRateRatio = 7;
    public const int RateSurprise = 8;
    public const int ErrorSurprise = 9;
    public const int SlowSurprise = 10;
    public const int LogP50Ratio = 11;

    /// <summary>Surprise values are capped here: beyond it every window is equally impossible.</summary>
    public const double MaxSurprise = 50;

    /// <summary>The events v2 row of a closed window, against the model's baselines.</summary>
    public static double[] For(ClosedWindow window, ServiceBaselines? baselines) =>
        window.Events.ToFeatures(baselines?.For(window.Service, window.Start, window.End));

    /// <summary>The seed's seven features of a set of events.</summary>
    public static double[] Extract(IEnumerable<TelemetryEvent> events)
    {
        var acc = new WindowAccumulator();
        foreach (var e in events)
        {
            acc.Add(e.Level, e.LatencyMs, e.Endpoint);
        }

        return acc.ToFeatures();
    }

    /// <summary>
    /// -log10 P(X &gt;= k) for X ~ Poisson(lambda): how surprising k or more events are; 0 when k
    /// is at or below what is expected, capped at <see cref="MaxSurprise"/>.
    /// </summary>
    public static double PoissonSurprise(int k, double lambda)
    {
        if (k <= lambda || k <= 0)
        {
            return 0;
        }

        if (lambda <= 0)
        {
            return MaxSurprise;
        }

        var logLambda = Math.Log(lambda);
        var logPmf = -lambda;
        for (var i = 1; i <= k; i++)
        {
            logPmf += logLambda - Math.Log(i);
        }

        double sum = 0, term = 1;
        for (var i = k; term > 1e-15 * sum; i++)
        {
            sum += term;
            term *= lambda / (i + 1);
        }

        return Math.Clamp(-(logPmf + Math.Log(sum)) / Math.Log(10), 0, MaxSurprise);
    }

    /// <summary>
    /// -log10 P(X &gt;= k) for X ~ Binomial(n, p): how surprising k or more hits are, in decimal
    /// digits; 0 when k is at or below what is expected, capped at <see cref="MaxSurprise"/>.
    /// </summary>
    public static double BinomialSurprise(int k, int n, double p)
    {
        if (k <= 0 || n <= 0 || k <= n * p)
        {
            return 0;
        }

        if (p <= 0)
        {
            return MaxSurprise;
        }

        if (p >= 1)
        {
            return 0;
        }

        // log pmf(k) by the ratio recurrence, then the tail summed relative to pmf(k): past the
        // mean the terms fall at least geometrically, so few are needed.
        var logRatio = Math.Log(p / (1 - p));
        var logPmf = n * Math.Log(1 - p);
        for (var i = 0; i < k; i++)
        {
            logPmf += Math.Log((double)(n - i) / (i + 1)) + logRatio;
        }

        double sum = 0, term = 1;
        for (var i = k; i <= n && term > 1e-15 * sum; i++)
        {
            sum += term;
            term *= (double)(n - i) / (i + 1) * (p / (1 - p));
        }

        var log10Tail = (logPmf + Math.Log(sum)) / Math.Log(10);
        return Math.Clamp(-log10Tail, 0, MaxSurprise);
    }
}

/// <summary>Running state of one window, bounded in memory (see <see cref="LatencyDigest"/>).</summary>
public sealed class WindowAccumulator(int exactLatencyLimit = LatencyDigest.DefaultExactLimit)
{
    /// <summary>Distinct endpoints kept in a small array up to this many (a window rarely sees more), then in a hash set.</summary>
    private const int FewEndpoints = 8;
    private readonly LatencyDigest _latencies = new(exactLatencyLimit);

    // The streaming reader interns names, so an endpoint seen before is usually the same string object, which
    // string.Equals recognises before comparing any text.
    private readonly string?[] _fewEndpoints = new string?[FewEndpoints];
    private int _fewCount;
    private HashSet<string>? _manyEndpoints;

    public int Count { get; private set; }

    public int Errors { get; private set; }

    /// <summary>Moved each time the window this accumulator holds leaves <see cref="Windows.EventTimeWindows"/>'s open set (see <see cref="Windows.OpenWindowHint"/>).</summary>
    internal int Epoch { get; set; }

    /// <summary>Empties the accumulator for another window (the streaming detector reuses them: no new objects per window).</summary>
    public void Reset()
    {
        Count = 0;
        Errors = 0;
        _latencies.Reset();
        Array.Clear(_fewEndpoints, 0, _fewCount);
        _fewCount = 0;
        _manyEndpoints?.Clear();
    }

    /// <summary>Distinct endpoints seen (ordinal comparison).</summary>
    public int UniqueEndpoints => _manyEndpoints is { Count: > 0 } many ? many.Count : _fewCount;

    /// <summary>Appends this window's latencies to a pool (for baselines over many windows).</summary>
    internal void AppendLatenciesTo(List<double> pool) => _latencies.AppendTo(pool);

    public void Add(EventLevel level, double latencyMs, string? endpoint)
    {
        Count++;
        if (level >= EventLevel.Error)
        {
            Errors++;
        }

        _latencies.Add(latencyMs);

        if (endpoint is not null)
        {
            AddEndpoint(endpoint);
        }
    }

    private void AddEndpoint(string endpoint)
    {
        if (_manyEndpoints is { Count: > 0 } many)
        {
            many.Add(endpoint);
            return;
        }

        for (var i = 0; i < _fewCount; i++)
        {
            if (string.Equals(_fewEndpoints[i], endpoint, StringComparison.Ordinal))
            {
                return;
            }
        }

        if (_fewCount < FewEndpoints)
        {
            _fewEndpoints[_fewCount++] = endpoint;
            return;
        }

        many = _manyEndpoints ??= new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < _fewCount; i++)
        {
            many.Add(_fewEndpoints[i]!);
        }

        many.Add(endpoint);
    }

    /// <summary>The seed's seven features (events v1).</summary>
    public double[] ToFeatures()
    {
        var f = new double[EventWindowFeatures.SeedSchema.Count];
        Fill(f);
        return f;
    }

    /// <summary>
    /// events v2: the seed's seven, then log_rate_ratio = ln((n + 1) / (expected + 1)),
    /// rate_surprise (Poisson surprise of n against the expected count), error_surprise and slow_surprise (binomial surprise of the errors against the baseline error
    /// share and of latencies above the baseline p95 against 5 %), log_p50_ratio = ln(p50 / baseline p50).
    /// Without a baseline (a service the model never saw) the relative features are 0, neutral.
    /// </summary>
    public double[] ToFeatures(WindowBaseline? baseline)
    {
        var f = new double[EventWindowFeatures.Schema.Count];
        var p50 = Fill(f);
        if (baseline is not { } b)
        {
            return f;
        }

        var slow = _latencies.CountAbove(b.LatencyP95);

        f[EventWindowFeatures.LogRateRatio] = Math.Log((Count + 1) / (b.ExpectedEvents + 1));
        f[EventWindowFeatures.RateSurprise] = EventWindowFeatures.PoissonSurprise(Count, b.ExpectedEvents);
        f[EventWindowFeatures.ErrorSurprise] = EventWindowFeatures.BinomialSurprise(Errors, Count, b.ErrorRate);
        f[EventWindowFeatures.SlowSurprise] = EventWindowFeatures.BinomialSurprise(slow, _latencies.Count, 0.05);
        f[EventWindowFeatures.LogP50Ratio] = _latencies.Count > 0 && b.LatencyP50 > 0 ? Math.Log(p50 / b.LatencyP50) : 0;
        return f;
    }

    /// <summary>Writes the seed's seven into f and returns the median latency.</summary>
    private double Fill(double[] f)
    {
        f[EventWindowFeatures.TotalEvents] = Count;
        f[EventWindowFeatures.ErrorRate] = Count == 0 ? 0 : (double)Errors / Count;
        f[EventWindowFeatures.UniqueEndpoints] = UniqueEndpoints;
        var (mean, stddev, p50, p95, p99) = _latencies.Summarize();
        f[EventWindowFeatures.AvgLatency] = mean;
        f[EventWindowFeatures.P95Latency] = p95;
        f[EventWindowFeatures.P99Latency] = p99;
        f[EventWindowFeatures.LatencyStddev] = stddev;
        return p50;
    }
}
