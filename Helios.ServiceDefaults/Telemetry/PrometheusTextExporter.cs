using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Globalization;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Helios.ServiceDefaults.Telemetry;

/// <summary>
/// Pull-based Prometheus text exposition (format 0.0.4) of OpenTelemetry SDK metrics:
/// add <see cref="Reader"/> to the MeterProvider and serve <see cref="ScrapeUtf8"/> with <see cref="ContentType"/>.
/// A scrape renders into one reused builder and keeps each instrument's names and help, so it allocates little more than
/// its UTF-8 bytes and a label string per point: the detector is scraped while it scores, and its garbage collections are in the alerts' latency.
/// </summary>
public sealed class PrometheusTextExporter
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private static readonly TimeSpan CacheFor = TimeSpan.FromMilliseconds(100);
    private static readonly string[] ReservedSuffixes = ["_total", "_count", "_sum", "_bucket"];
    private readonly TextRenderer renderer = new();
    private readonly Lock scrapeLock = new();
    private ReadOnlyMemory<byte> cached = ReadOnlyMemory<byte>.Empty;
    private long cachedAt;

    public PrometheusTextExporter() =>
        Reader = new BaseExportingMetricReader(renderer) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };

    public MetricReader Reader { get; }

    /// <summary>The exposition as UTF-8: collected now (at most every 100 ms; concurrent callers share one collection).</summary>
    public ReadOnlyMemory<byte> ScrapeUtf8()
    {
        lock (scrapeLock)
        {
            if (cachedAt != 0 && Stopwatch.GetElapsedTime(cachedAt) < CacheFor)
            {
                return cached;
            }

            renderer.Rendered = null;
            if (Reader.Collect(10_000) && renderer.Rendered is { } bytes)
            {
                cached = bytes;
            }

            cachedAt = Stopwatch.GetTimestamp();
            return cached;
        }
    }

    /// <summary>The exposition text (<see cref="ScrapeUtf8"/> decoded).</summary>
    public string Scrape() => Encoding.UTF8.GetString(ScrapeUtf8().Span);

    // The SDK hands the batch to Export during Collect (and on flush/shutdown); the batch is only valid inside the call.
    // Collect runs one export at a time, so the renderer's reused state needs no lock of its own.
    private sealed class TextRenderer : BaseExporter<Metric>
    {
        private readonly StringBuilder text = new(64 * 1024);
        private readonly Dictionary<string, Family> families = new(StringComparer.Ordinal);
        private readonly List<Family> order = [];
        private readonly ConditionalWeakTable<Metric, Description> descriptions = new();
        private readonly List<(string Name, string Value)> labels = [];
        private readonly Encoder encoder = new UTF8Encoding(false).GetEncoder();
        private readonly HashSet<string> series = new(StringComparer.Ordinal);
        private byte[] scratch = [];

        public ReadOnlyMemory<byte>? Rendered { get; set; }

        public override ExportResult Export(in Batch<Metric> batch)
        {
            Rendered = Render(batch);
            return ExportResult.Success;
        }

        private ReadOnlyMemory<byte> Render(in Batch<Metric> batch)
        {
            try
            {
                Group(batch);
                text.Clear();
                foreach (var family in order)
                {
                    WriteFamily(family);
                }
            }
            finally
            {
                // Also after a failed render: the next one starts from no streams.
                foreach (var family in order)
                {
                    family.Metrics.Clear();
                }

                order.Clear();
            }

            return Utf8();
        }

        /// <summary>Streams grouped by family name, in first-seen order: the same instrument name in two meters is one family.</summary>
        private void Group(in Batch<Metric> batch)
        {
            foreach (var metric in batch)
            {
                if (Describe(metric) is not { Type: not null } description)
                {
                    continue;
                }

                if (!families.TryGetValue(description.Name, out var family))
                {
                    family = new Family(description.Name);
                    families.Add(description.Name, family);
                }

                if (family.Metrics.Count == 0)
                {
                    // The family's first stream in this render gives its type and help.
                    family.Start(description.Type, description.Help);
                    order.Add(family);
                }
                else if (family.Type != description.Type)
                {
                    continue; // one name cannot carry two types; the first stream wins
                }

                family.Metrics.Add((metric, description));
            }
        }

        private void WriteFamily(Family family)
        {
            text.Append("# HELP ").Append(family.Name).Append(' ').Append(family.Help).Append('\n');
            text.Append("# TYPE ").Append(family.Name).Append(' ').Append(family.Type).Append('\n');
            // One series per label set: two streams of one name (two meters) can repeat one, and so can one stream whose
            // tags render alike ("a.b" and "a_b", 1 and "1").
            series.Clear();
            foreach (var (metric, description) in family.Metrics)
            {
                foreach (ref readonly var point in metric.GetMetricPoints())
                {
                    // Rendered once per point, for the check and for each of its lines (a histogram has a dozen).
                    var rendered = Labels(point.Tags);
                    if (series.Add(rendered))
                    {
                        WritePoint(family.Name, metric.MetricType, description.Divisor, rendered, in point);
                    }
                }
            }
        }

        private Description Describe(Metric metric) => descriptions.GetValue(metric, static m => PrometheusTextExporter.Describe(m));

        /// <summary>The builder's text as UTF-8, in an array of its own (a response may still be sending the last one).</summary>
        private ReadOnlyMemory<byte> Utf8()
        {
            // Encoded into a reused buffer first, then copied at its exact length (about 30 KB: under the large-object
            // heap's 85,000 bytes, so a generation-0 object); one encoder across the chunks keeps a surrogate pair split
            // between two of them whole.
            var most = 0;
            foreach (var chunk in text.GetChunks())
            {
                most += Encoding.UTF8.GetMaxByteCount(chunk.Length);
            }

            if (scratch.Length < most)
            {
                scratch = new byte[most];
            }

            var written = 0;
            encoder.Reset();
            foreach (var chunk in text.GetChunks())
            {
                written += encoder.GetBytes(chunk.Span, scratch.AsSpan(written), flush: false);
            }

            written += encoder.GetBytes([], scratch.AsSpan(written), flush: true);
            return scratch.AsSpan(0, written).ToArray();
        }

        private void WritePoint(string name, MetricType metricType, double divisor, string labels, in MetricPoint point)
        {
            if (metricType != MetricType.Histogram)
            {
                Sample(name, "", labels);
                switch (metricType)
                {
                    case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                        Number(point.GetSumLong(), divisor);
                        break;
                    case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                        Number(point.GetSumDouble() / divisor);
                        break;
                    case MetricType.LongGauge:
                        Number(point.GetGaugeLastValueLong(), divisor);
                        break;
                    default:
                        Number(point.GetGaugeLastValueDouble() / divisor);
                        break;
                }

                text.Append('\n');
                return;
            }

            var count = point.GetHistogramCount();
            long cumulative = 0;
            var wroteInf = false;
            foreach (var bucket in point.GetHistogramBuckets())
            {
                cumulative += bucket.BucketCount;
                wroteInf = double.IsPositiveInfinity(bucket.ExplicitBound);
                Bucket(name, labels, bucket.ExplicitBound / divisor, cumulative);
            }

            if (!wroteInf)
            {
                Bucket(name, labels, double.PositiveInfinity, count);
            }

            Sample(name, "_sum", labels);
            Number(point.GetHistogramSum() / divisor);
            text.Append('\n');
            Sample(name, "_count", labels);
            Number(count, 1);
            text.Append('\n');
        }

        /// <summary>A sample line up to its value: <c>name{labels} </c> (no braces without labels).</summary>
        private void Sample(string name, string suffix, string labels)
        {
            text.Append(name).Append(suffix);
            if (labels.Length > 0)
            {
                text.Append('{').Append(labels).Append('}');
            }

            text.Append(' ');
        }

        private void Bucket(string name, string labels, double bound, long cumulative)
        {
            text.Append(name).Append("_bucket{").Append(labels).Append(labels.Length == 0 ? "le=\"" : ",le=\"");
            Number(bound);
            text.Append("\"} ");
            Number(cumulative, 1);
            text.Append('\n');
        }

        /// <summary>The point's labels as <c>name="value",...</c>, escaped (empty without tags).</summary>
        private string Labels(ReadOnlyTagCollection tags)
        {
            if (tags.Count == 0)
            {
                return "";
            }

            // Two tags may sanitize to one label name ("a.b", "a_b"); their values are joined as the OTel spec asks.
            labels.Clear();
            foreach (var tag in tags)
            {
                var name = SanitizedKey(tag.Key);
                var value = TagValue(tag.Value);
                var index = labels.Count - 1;
                while (index >= 0 && labels[index].Name != name)
                {
                    index--;
                }

                if (index < 0)
                {
                    labels.Add((name, value));
                }
                else
                {
                    labels[index] = (name, labels[index].Value + ";" + value);
                }
            }

            // Written at the builder's end and taken back off: no builder of its own.
            var from = text.Length;
            for (var i = 0; i < labels.Count; i++)
            {
                text.Append(i == 0 ? "" : ",").Append(labels[i].Name).Append("=\"");
                EscapeLabelValue(labels[i].Value);
                text.Append('"');
            }

            var rendered = text.ToString(from, text.Length - from);
            text.Length = from;
            return rendered;
        }

        private void EscapeLabelValue(string value)
        {
            foreach (var c in value)
            {
                _ = c switch
                {
                    '\\' => text.Append("\\\\"),
                    '\n' => text.Append("\\n"),
                    '"' => text.Append("\\\""),
                    _ => text.Append(c),
                };
            }
        }

        private void Number(long value, double divisor)
        {
            if (divisor == 1)
            {
                text.Append(CultureInfo.InvariantCulture, $"{value}");
            }
            else
            {
                Number(value / divisor);
            }
        }

        private void Number(double value) => _ = value switch
        {
            double.PositiveInfinity => text.Append("+Inf"),
            double.NegativeInfinity => text.Append("-Inf"),
            double.NaN => text.Append("NaN"),
            _ => text.Append(CultureInfo.InvariantCulture, $"{value:R}"),
        };
    }

    /// <summary>A metric family: its name, and this render's type, help and streams (kept from render to render, cleared after each).</summary>
    private sealed class Family(string name)
    {
        public string Name { get; } = name;
        public string Type { get; private set; } = "";
        public string Help { get; private set; } = "";
        public List<(Metric Metric, Description Description)> Metrics { get; } = [];

        public void Start(string type, string help)
        {
            Type = type;
            Help = help;
        }
    }

    /// <summary>How an instrument is exposed: its family name and type (none: not exposable), its unit's divisor to seconds, and its escaped help text.</summary>
    private sealed record Description(string Name, string? Type, double Divisor, string Help = "");

    private static readonly ConcurrentDictionary<string, string> SanitizedKeys = new(StringComparer.Ordinal);

    private static string SanitizedKey(string key) => SanitizedKeys.GetOrAdd(key, Sanitize);

    private static Description Describe(Metric metric)
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
            return new Description(metric.Name, null, 1);
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
            return new Description(name + "_total", type, divisor, HelpOf(metric));
        }

        // Gauges such as dotnet.timer.count would end in a suffix Prometheus reserves for counters and histograms.
        if (type == "gauge" && ReservedSuffixes.Any(s => name.EndsWith(s, StringComparison.Ordinal)))
        {
            name += "_current";
        }

        return new Description(name, type, divisor, HelpOf(metric));
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

    private static string HelpOf(Metric metric) => EscapeHelp(string.IsNullOrWhiteSpace(metric.Description) ? metric.Name : metric.Description);

    private static string EscapeHelp(string text) => text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
