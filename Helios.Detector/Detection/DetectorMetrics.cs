using System.Diagnostics.Metrics;

namespace Helios.Detector.Detection;

/// <summary>The seed's metric names (helios_detection_*), exposed on /metrics and over OTLP.</summary>
public sealed class DetectorMetrics : IDisposable
{
    public const string MeterName = "Helios.Detector";
    /// <summary>
    /// Bucket bounds (seconds) of the latency histograms: the SDK's default bounds (0, 5, 10, 25 ... 10,000) suit
    /// milliseconds, and every latency here, in seconds, would fall in the one bucket up to 5.
    /// </summary>
    private static readonly InstrumentAdvice<double> Seconds = new() { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] };
    private readonly Meter _meter = new(MeterName);

    public DetectorMetrics()
    {
        EventsProcessed = _meter.CreateCounter<long>("helios.detection.events_processed", "{event}", "Events consumed and windowed");
        AnomaliesDetected = _meter.CreateCounter<long>("helios.anomalies_detected", "{window}", "Windows scored as anomalous");
        WindowsScored = _meter.CreateCounter<long>("helios.detection.windows_scored", "{window}", "Closed windows scored");
        DeadLettered = _meter.CreateCounter<long>("helios.detection.dead_lettered", "{event}", "Malformed events sent to the dead-letter topic");
        LateEvents = _meter.CreateCounter<long>("helios.detection.late_events", "{event}", "Events that arrived after their window closed");
        ReplayedEvents = _meter.CreateCounter<long>("helios.detection.replayed_events", "{event}", "Events re-read after a restart for windows already recorded");
        Latency = _meter.CreateHistogram<double>("helios.detection.latency", "s", "Time from a window's close to its scoring and its alerts stored and published", tags: null, advice: Seconds);
        AlertPublish = _meter.CreateHistogram<double>("helios.detection.alert_publish", "s", "Time from handing an alert to the producer to the broker's acknowledgement", tags: null, advice: Seconds);
        WindowSize = _meter.CreateHistogram<long>("helios.detection.window_size", "{event}", "Events per scored window");
    }

    public Counter<long> EventsProcessed { get; }

    public Counter<long> AnomaliesDetected { get; }

    public Counter<long> WindowsScored { get; }

    public Counter<long> DeadLettered { get; }

    public Counter<long> LateEvents { get; }

    public Counter<long> ReplayedEvents { get; }

    public Histogram<double> Latency { get; }

    public Histogram<long> WindowSize { get; }

    public Histogram<double> AlertPublish { get; }

    public void ObserveOpenWindows(Func<int> openWindows) =>
        _meter.CreateObservableGauge("helios.detection.open_windows", openWindows, "{window}", "Windows currently open");

    /// <summary>The version of the events model the detector scores with.</summary>
    public void ObserveModelVersion(Func<long> version) =>
        _meter.CreateObservableGauge("helios.detection.model_version", version, null, "Version of the active events model in use");

    /// <summary>Events on the assigned partitions not consumed yet (high watermark minus position), refreshed by the consume loop.</summary>
    public void ObserveConsumerLag(Func<long> lag) =>
        _meter.CreateObservableGauge("helios.detection.consumer_lag", lag, "{event}", "Events waiting on the assigned partitions");

    public void Dispose() => _meter.Dispose();
}
