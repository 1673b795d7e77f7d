using System.Diagnostics.Metrics;

namespace Helios.Detector.Storage;

public sealed class StorageMetrics : IDisposable
{
    public const string MeterName = "Helios.Detector.Storage";
    private readonly Meter _meter = new(MeterName);

    public StorageMetrics()
    {
        Stored = _meter.CreateCounter<long>("helios.storage.events_stored", "{event}", "Events written to PostgreSQL (re-writes after a crash included)");
        Rewritten = _meter.CreateCounter<long>("helios.storage.events_rewritten", "{event}",
            "Events of batches that overlapped rows already stored (re-read after a restart or rebalance), written again through the staging table");
        Skipped = _meter.CreateCounter<long>("helios.storage.events_skipped", "{event}", "Malformed events not stored (the detector dead-letters them)");
        MinutesFolded = _meter.CreateCounter<long>("helios.storage.minutes_folded", "{row}",
            "Per-minute sums moved from event_minutes_pending into event_minutes_folded");
        RangesSummarized = _meter.CreateCounter<long>("helios.storage.ranges_summarized", "{range}",
            "Block ranges of the events' (service, ts) BRIN index summarized after rows filled them");
    }

    public Counter<long> Stored { get; }

    public Counter<long> Skipped { get; }

    public Counter<long> Rewritten { get; }

    public Counter<long> MinutesFolded { get; }

    public Counter<long> RangesSummarized { get; }

    public void Dispose() => _meter.Dispose();
}
