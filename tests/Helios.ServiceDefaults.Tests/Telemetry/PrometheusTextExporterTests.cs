using System.ComponentModel;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using Helios.ServiceDefaults.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Helios.ServiceDefaults.Tests.Telemetry;

public sealed class PrometheusTextExporterTests
{
    private static readonly KeyValuePair<string, object?> ServiceA = new("service", "a");
    private static readonly KeyValuePair<string, object?> ServiceB = new("service", "b");

    [Fact]
    public void Scrape_AllInstrumentKinds_RendersExpectedLines()
    {
        var text = ScrapeAllKinds();
        var lines = text.Split('\n');

        Assert.Contains("# HELP helios_test_events_total Events seen.", lines);
        Assert.Contains("# TYPE helios_test_events_total counter", lines);
        Assert.Contains("helios_test_events_total{service=\"a\"} 3", lines);
        Assert.Contains("helios_test_events_total{service=\"b\"} 5", lines);
        Assert.Contains("# TYPE helios_test_inflight gauge", lines);
        Assert.Contains("helios_test_inflight{http_route=\"/x\",service=\"a\"} 2", lines);
        Assert.Contains("# TYPE helios_test_utilization_ratio gauge", lines);
        Assert.Contains("helios_test_utilization_ratio{service=\"a\"} 0.25", lines);
        Assert.Contains("# TYPE helios_test_worker_count_current gauge", lines);
        Assert.Contains("helios_test_worker_count_current 4", lines);
        Assert.Contains("# HELP helios_test_duration_seconds Time per request.", lines);
        Assert.Contains("# TYPE helios_test_duration_seconds histogram", lines);
        Assert.Contains("helios_test_duration_seconds_sum{service=\"a\"} 3.0625", lines);
        Assert.Contains("helios_test_duration_seconds_count{service=\"a\"} 4", lines);
        Assert.Equal('\n', text[^1]);
    }

    [Fact]
    public void Scrape_Histogram_BucketsAreCumulativeAndEndWithInf()
    {
        var buckets = ScrapeAllKinds().Split('\n').Where(l => l.StartsWith("helios_test_duration_seconds_bucket", StringComparison.Ordinal)).ToArray();

        Assert.Equal(
            [
                "helios_test_duration_seconds_bucket{service=\"a\",le=\"0.1\"} 1",
                "helios_test_duration_seconds_bucket{service=\"a\",le=\"0.5\"} 2",
                "helios_test_duration_seconds_bucket{service=\"a\",le=\"1\"} 3",
                "helios_test_duration_seconds_bucket{service=\"a\",le=\"+Inf\"} 4",
            ],
            buckets);
    }

    [Fact]
    public void Scrape_AllInstrumentKinds_PassesPromtoolLint()
    {
        var (exitCode, output) = Promtool(ScrapeAllKinds());

        Assert.Equal("", output);
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public void Scrape_SameNameInTwoMeters_MergedUnderOneFamily()
    {
        using var first = new Meter(UniqueMeterName());
        using var second = new Meter(UniqueMeterName());
        var exporter = new PrometheusTextExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(first.Name, second.Name).AddReader(exporter.Reader).Build();
        first.CreateCounter<long>("helios.test.shared", description: "Shared.").Add(1, new KeyValuePair<string, object?>("source", "one"));
        second.CreateCounter<long>("helios.test.shared", description: "Shared.").Add(2, new KeyValuePair<string, object?>("source", "two"));

        var text = exporter.Scrape();
        var lines = text.Split('\n');

        Assert.Single(lines, l => l == "# HELP helios_test_shared_total Shared.");
        Assert.Single(lines, l => l == "# TYPE helios_test_shared_total counter");
        Assert.Contains("helios_test_shared_total{source=\"one\"} 1", lines);
        Assert.Contains("helios_test_shared_total{source=\"two\"} 2", lines);
        Assert.Equal((0, ""), Promtool(text));
    }

    [Fact]
    public void Scrape_OneStreamsTagsThatRenderAlike_OneSeries()
    {
        using var meter = new Meter(UniqueMeterName());
        var exporter = new PrometheusTextExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(meter.Name).AddReader(exporter.Reader).Build();
        var counter = meter.CreateCounter<long>("helios.test.alike", description: "Alike.");
        counter.Add(1, new KeyValuePair<string, object?>("a.b", "x"));
        counter.Add(2, new KeyValuePair<string, object?>("a_b", "x"));

        var text = exporter.Scrape();

        Assert.Single(text.Split('\n'), l => l.StartsWith("helios_test_alike_total{a_b=\"x\"} ", StringComparison.Ordinal));
        Assert.Equal((0, ""), Promtool(text));
    }

    [Fact]
    public void Scrape_SpecialCharacters_EscapesHelpAndLabelValues()
    {
        using var meter = new Meter(UniqueMeterName());
        var exporter = new PrometheusTextExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(meter.Name).AddReader(exporter.Reader).Build();
        meter.CreateCounter<long>("helios-test.odd", description: "Line one\\\nline \"two\"")
            .Add(1, new KeyValuePair<string, object?>("path.raw", "a\"b\\c\nd"));

        var text = exporter.Scrape();
        var lines = text.Split('\n');

        Assert.Contains("# HELP helios_test_odd_total Line one\\\\\\nline \"two\"", lines);
        Assert.Contains("helios_test_odd_total{path_raw=\"a\\\"b\\\\c\\nd\"} 1", lines);
        Assert.Equal((0, ""), Promtool(text));
    }

    [Fact]
    public void Scrape_MillisecondHistogram_RescaledToSeconds()
    {
        using var meter = new Meter(UniqueMeterName());
        var exporter = new PrometheusTextExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(meter.Name).AddReader(exporter.Reader).Build();
        meter.CreateHistogram<double>("helios.test.latency", "ms", "Latency.", tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [100, 500] })
            .Record(250);

        var text = exporter.Scrape();
        var lines = text.Split('\n');

        Assert.Contains("helios_test_latency_seconds_bucket{le=\"0.1\"} 0", lines);
        Assert.Contains("helios_test_latency_seconds_bucket{le=\"0.5\"} 1", lines);
        Assert.Contains("helios_test_latency_seconds_bucket{le=\"+Inf\"} 1", lines);
        Assert.Contains("helios_test_latency_seconds_sum 0.25", lines);
        Assert.Equal((0, ""), Promtool(text));
    }

    [Fact]
    public void Scrape_ConcurrentCallers_AllGetCompleteText()
    {
        using var meter = new Meter(UniqueMeterName());
        var exporter = new PrometheusTextExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(meter.Name).AddReader(exporter.Reader).Build();
        meter.CreateCounter<long>("helios.test.events", description: "Events seen.").Add(7, ServiceA);

        var texts = new string[16];
        Parallel.For(0, texts.Length, i => texts[i] = exporter.Scrape());

        Assert.All(texts, t => Assert.Contains("helios_test_events_total{service=\"a\"} 7\n", t, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ScrapeUtf8_AfterTheCache_RendersTheNewValuesAndLeavesTheLastScrapeAsItWas()
    {
        using var meter = new Meter(UniqueMeterName());
        var exporter = new PrometheusTextExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(meter.Name).AddReader(exporter.Reader).Build();
        var events = meter.CreateCounter<long>("helios.test.events", description: "Events seen.");
        events.Add(7, ServiceA, new KeyValuePair<string, object?>("loop", 2));

        var first = exporter.ScrapeUtf8();
        var firstText = Encoding.UTF8.GetString(first.Span);
        events.Add(5, ServiceA, new KeyValuePair<string, object?>("loop", 2));
        events.Add(1, ServiceB, new KeyValuePair<string, object?>("loop", 2));
        await Task.Delay(150); // past the 100 ms a collection is shared for
        var second = Encoding.UTF8.GetString(exporter.ScrapeUtf8().Span);

        Assert.Contains("helios_test_events_total{loop=\"2\",service=\"a\"} 7\n", firstText, StringComparison.Ordinal);
        Assert.Contains("helios_test_events_total{loop=\"2\",service=\"a\"} 12\n", second, StringComparison.Ordinal);
        Assert.Contains("helios_test_events_total{loop=\"2\",service=\"b\"} 1\n", second, StringComparison.Ordinal);
        Assert.Single(second.Split('\n'), l => l == "# TYPE helios_test_events_total counter");
        Assert.Equal(firstText, Encoding.UTF8.GetString(first.Span)); // the renderer's reused state is not the bytes it served
        Assert.Equal((0, ""), Promtool(second));
    }

    private static string ScrapeAllKinds()
    {
        using var meter = new Meter(UniqueMeterName());
        var exporter = new PrometheusTextExporter();
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(meter.Name).AddReader(exporter.Reader).Build();

        var events = meter.CreateCounter<long>("helios.test.events", "{event}", "Events seen.");
        var inflight = meter.CreateUpDownCounter<int>("helios.test.inflight", "{request}", "Requests in flight.");
        meter.CreateObservableUpDownCounter("helios.test.worker.count", () => 4, "{worker}", "Workers alive.");
        meter.CreateObservableGauge("helios.test.utilization", () => new Measurement<double>(0.25, ServiceA), "1", "Share of capacity in use.");
        var duration = meter.CreateHistogram<double>(
            "helios.test.duration", "s", "Time per request.", tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.5, 1] });

        events.Add(1, ServiceA);
        events.Add(2, ServiceA);
        events.Add(5, ServiceB);
        var route = new KeyValuePair<string, object?>("http.route", "/x");
        inflight.Add(3, ServiceA, route);
        inflight.Add(-1, ServiceA, route);
        foreach (var seconds in new[] { 0.0625, 0.25, 0.75, 2 })
        {
            duration.Record(seconds, ServiceA);
        }

        return exporter.Scrape();
    }

    private static string UniqueMeterName() => "Helios.Tests." + Guid.NewGuid().ToString("N");

    private static (int ExitCode, string Output) Promtool(string text)
    {
        var start = new ProcessStartInfo("promtool", "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardInputEncoding = new UTF8Encoding(false),
        };
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("promtool did not start");
        }
        catch (Win32Exception e)
        {
            Assert.Fail($"promtool is missing ({e.Message}): apt-get install prometheus");
            throw;
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardInput.Write(text);
            process.StandardInput.Close();
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }
}
