using System.Diagnostics;
using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Helios.ServiceDefaults.Telemetry;

/// <summary>
/// Pull-based Prometheus text exposition (format 0.0.4) of OpenTelemetry SDK metrics:
/// add <see cref="Reader"/> to the MeterProvider and serve <see cref="Scrape"/> with <see cref="ContentType"/>.
/// </summary>
public sealed class PrometheusTextExporter
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static readonly TimeSpan CacheFor = TimeSpan.FromMilliseconds(100);
    private static readonly string[] ReservedSuffixes = ["_total", "_count", "_sum", "_bucket"];
    private readonly TextRenderer renderer = new();
    private readonly Lock scrapeLock = new();
    private string cached = "";
    private long cachedAt;

    public PrometheusTextExporter() =>
        Reader = new BaseExportingMetricReader(renderer) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };

    public MetricReader Reader { get; }

    /// <summary>Collects now (at most every 100 ms; concurrent callers share one collection) and returns the exposition text.</summary>
    public string Scrape()
    {
        lock (scrapeLock)
        {
            if (cachedAt != 0 && Stopwatch.GetElapsedTime(cachedAt) < CacheFor)
            {
                return cached;
            }

            renderer.Text = null;
            if (Reader.Collect(10_000) && renderer.Text is { } text)
            {
                cached = text;
            }

            cachedAt = Stopwatch.GetTimestamp();
            return cached;
        }
    }

    // The SDK hands the batch to Export during Collect (and on flush/shutdown); the batch is only valid inside the call.
    private sealed class TextRenderer : BaseExporter<Metric>
    {
        public string? Text { get; set; }

        public override ExportResult Export(in Batch<Metric> batch)
        {
            Text = Render(batch);
            return ExportResult.Success;
        }
    }

    private sealed class Family(string name, string type, string help)
    {
        public string Name { get; } = name;
        public string Type { get; } = type;
        public string Help { get; } = help;
        public StringBuilder Samples { get; } = new();
        public HashSet<string> Series { get; } = new(StringComparer.Ordinal);
    }

    private static string Render(in Batch<Metric> batch)
    {
        var families = new Dictionary<string, Family>(StringComparer.Ordinal);
        var order = new List<Family>();
        foreach (var metric in batch)
        {
            if (Describe(metric) is not (var name, var type, var divisor))
            {
                continue;
            }

            if (!families.TryGetValue(name, out var family))
            {
                var help = string.IsNullOrWhiteSpace(metric.Description) ? metric.Name : metric.Description;
                family = new Family(name, type, help);
                families.Add(name, family);
                order.Add(family);
            }
            else if (family.Type != type)
            {
                continue; // one name cannot carry two types; the first stream wins
            }

            foreach (ref readonly var point in metric.GetMetricPoints())
            {
                var labels = Labels(point.Tags);
                // Same instrument name in two meters: the SDK gives two streams; keep one series per label set.
                if (family.Series.Add(labels))
                {
                    WritePoint(family, metric.MetricType, divisor, labels, in point);
                }
            }
        }

        var text = new StringBuilder();
        foreach (var family in order)
        {
            text.Append("# HELP ").Append(family.Name).Append(' ').Append(EscapeHelp(family.Help)).Append('\n');
            text.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type).Append('\n');
            text.Append(family.Samples);
        }

        return text.ToString();
    }

    private static (string Name, string Type, double Divisor)? Describe(Metric metric)
    {
        var type = metric.MetricType switch
        {
            MetricType.LongSum or MetricType.DoubleSum => "counter",
            MetricType.LongSumNonMonotonic or MetricType.DoubleSumNonMonotonic or MetricType.LongGauge or MetricType.DoubleGauge => "gauge",
            MetricType.Histogram => "histogram",
            _ => null, // exponential histograms have no 0.0.4 text form
        };
        if (type is null)
        {
            return null;
        }

        // Sub-second units are rescaled to seconds: promtool rejects non-base units such as "milliseconds".
        var (unit, divisor) = metric.Unit switch
        {
            "s" => ("seconds", 1d),
            "ms" => ("seconds", 1e3),
            "us" => ("seconds", 1e6),
            "ns" => ("seconds", 1e9),
            "By" => ("bytes", 1d),
            "1" when type == "gauge" => ("ratio", 1d),
            _ => ("", 1d), // "{request}"-style annotations and unknown units are dropped
        };

        var name = Sanitize(metric.Name);
        if (type == "counter" && name.EndsWith("_total", StringComparison.Ordinal))
        {
            name = name[..^"_total".Length];
        }

        if (unit.Length > 0 && !name.EndsWith("_" + unit, StringComparison.Ordinal))
        {
            name += "_" + unit;
        }

        if (type == "counter")
        {
            return (name + "_total", type, divisor);
        }

        // Gauges such as dotnet.timer.count would end in a suffix Prometheus reserves for counters and histograms.
        if (type == "gauge" && ReservedSuffixes.Any(s => name.EndsWith(s, StringComparison.Ordinal)))
        {
            name += "_current";
        }

        return (name, type, divisor);
    }

    private static void WritePoint(Family family, MetricType metricType, double divisor, string labels, in MetricPoint point)
    {
        var samples = family.Samples;
        if (metricType != MetricType.Histogram)
        {
            var value = metricType switch
            {
                MetricType.LongSum or MetricType.LongSumNonMonotonic => Number(point.GetSumLong(), divisor),
                MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic => Number(point.GetSumDouble() / divisor),
                MetricType.LongGauge => Number(point.GetGaugeLastValueLong(), divisor),
                _ => Number(point.GetGaugeLastValueDouble() / divisor),
            };
            Sample(samples, family.Name, labels, value);
            return;
        }

        var prefix = labels.Length > 0 ? labels + "," : "";
        var count = point.GetHistogramCount();
        long cumulative = 0;
        var wroteInf = false;
        foreach (var bucket in point.GetHistogramBuckets())
        {
            cumulative += bucket.BucketCount;
            wroteInf = double.IsPositiveInfinity(bucket.ExplicitBound);
            var le = wroteInf ? "+Inf" : Number(bucket.ExplicitBound / divisor);
            Sample(samples, family.Name + "_bucket", prefix + "le=\"" + le + "\"", Number(cumulative, 1));
        }

        if (!wroteInf)
        {
            Sample(samples, family.Name + "_bucket", prefix + "le=\"+Inf\"", Number(count, 1));
        }

        Sample(samples, family.Name + "_sum", labels, Number(point.GetHistogramSum() / divisor));
        Sample(samples, family.Name + "_count", labels, Number(count, 1));
    }

    private static void Sample(StringBuilder samples, string name, string labels, string value)
    {
        samples.Append(name);
        if (labels.Length > 0)
        {
            samples.Append('{').Append(labels).Append('}');
        }

        samples.Append(' ').Append(value).Append('\n');
    }

    private static string Labels(ReadOnlyTagCollection tags)
    {
        if (tags.Count == 0)
        {
            return "";
        }

        // Two tags may sanitize to one label name ("a.b", "a_b"); their values are joined as the OTel spec asks.
        var labels = new List<(string Name, string Value)>(tags.Count);
        foreach (var tag in tags)
        {
            var name = Sanitize(tag.Key);
            var value = TagValue(tag.Value);
            var index = labels.FindIndex(l => l.Name == name);
            if (index < 0)
            {
                labels.Add((name, value));
            }
            else
            {
                labels[index] = (name, labels[index].Value + ";" + value);
            }
        }

        return string.Join(',', labels.Select(l => l.Name + "=\"" + EscapeLabelValue(l.Value) + "\""));
    }

    private static string TagValue(object? value) => value switch
    {
        null => "",
        string s => s,
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    /// <summary>Maps to [a-zA-Z0-9_], collapses runs of '_' and avoids a leading digit.</summary>
    private static string Sanitize(string name)
    {
        var sb = new StringBuilder(name.Length + 1);
        foreach (var c in name)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                sb.Append(c);
            }
            else if (sb.Length == 0 || sb[^1] != '_')
            {
                sb.Append('_');
            }
        }

        while (sb.Length > 1 && sb[^1] == '_')
        {
            sb.Length--;
        }

        if (sb.Length == 0 || char.IsAsciiDigit(sb[0]))
        {
            sb.Insert(0, '_');
        }

        return sb.ToString();
    }

    private static string EscapeHelp(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeLabelValue(string text) => EscapeHelp(text).Replace("\"", "\\\"", StringComparison.Ordinal);

    private static string Number(long value, double divisor) =>
        divisor == 1 ? value.ToString(CultureInfo.InvariantCulture) : Number(value / divisor);

    private static string Number(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };
}
