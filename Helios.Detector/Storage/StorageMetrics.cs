using System.Diagnostics.Metrics;

namespace Helios.Detector.Storage;

public sealed class StorageMetrics : IDisposable
{
    public const string MeterName = "Helios.Detector.Storage";
    private readonly Meter _meter = new(MeterName);

    public StorageMetrics()
    {
        Stored = _meter.CreateCounter<long>("helios.storage.events_stored", "{event}", "Events written to PostgreSQL");
        AlreadyStored = _meter.CreateCounter<long>("helios.storage.events_already_stored", "{event}",
            "Events read again after a restart or rebalance and left out, as the event ledger had them stored");
        LedgerResets = _meter.CreateCounter<long>("helios.storage.ledger_resets", "{partition}",
            "Partitions whose event ledger described another log (a topic created anew) and was reset");
        Skipped = _meter.CreateCounter<long>("helios.storage.events_skipped", "{event}", "Malformed events not stored (the detector dead-letters them)");
        SumsWritten = _meter.CreateCounter<long>("helios.storage.minute_sums_written", "{row}",
            "Per-minute sums (per service and minute, over about a second of events) appended to event_minutes_pending");
        SumsRecounted = _meter.CreateCounter<long>("helios.storage.sums_recounted", "{partition}",
            "Partitions whose sums another member had partly written (a rebalance's overlap), so the rest was counted from the stored events");
        MinutesFolded = _meter.CreateCounter<long>("helios.storage.minutes_folded", "{row}",
            "Per-minute sums moved from event_minutes_pending into event_minutes_folded");
        RangesSummarized = _meter.CreateCounter<long>("helios.storage.ranges_summarized", "{range}",
            "Block ranges of the events' (service, ts) BRIN index summarized after rows filled them");
    }

    public Counter<long> Stored { get; }

    public Counter<long> Skipped { get; }

    public Counter<long> AlreadyStored { get; }

    public Counter<long> LedgerResets { get; }

    public Counter<long> SumsWritten { get; }

    public Counter<long> SumsRecounted { get; }

    public Counter<long> MinutesFolded { get; }

    public Counter<long> RangesSummarized { get; }

    public void Dispose() => _meter.Dispose();
}
