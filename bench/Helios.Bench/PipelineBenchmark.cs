using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Helios.AppHost.Hosting;
using Helios.AppHost.Testing;
using Helios.Core.Features;
using Npgsql;

namespace Helios.Bench;

/// <summary>
/// Events through the real stack: the librdkafka mock broker the AppHost hosts (in this process), the
/// Helios.Detector process (Release build) and the embedded PostgreSQL, started through the AppHost's testing
/// entry point, a fresh stack per phase: (1) detection path only, (2) storage path only, (3) both. The
/// producer runs as fast as a backlog budget lets it, the consumer's progress read from the detector's
/// /metrics, so the rates measure the consumer, and the mock's 5 MiB per partition never drops unread data.
/// </summary>
internal sealed partial class PipelineBenchmark(string[] args) : IBenchmark
{
    private const string EventsTopic = "events";
    private const string AlertsTopic = "anomaly-alerts";
    private const int CalibrationEvents = 400_000;
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan ScrapeEvery = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(5);
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    public string Name => "pipeline";

    public string Summary => "Kafka (mock broker) -> detector process (Release) -> PostgreSQL, 10,000 services: detection, storage, both (not in `all`)";

    public async Task<JsonObject> RunAsync(Report report, CancellationToken ct)
    {
        var o = PipelineOptions.Parse(args);
        var traffic = new PipelineTraffic(o.Services, o.EventsPerWindow, o.StormsPerWindow, Window);
        var (normal, storm) = traffic.Samples();
        if (!PipelineTraffic.Parses(normal, out var parsedNormal) || !PipelineTraffic.Parses(storm, out var parsedStorm)
            || parsedNormal!.Service != PipelineTraffic.ServiceName(0) || parsedStorm!.Level < Core.Events.EventLevel.Info)
        {
            throw new InvalidOperationException("The generated events do not parse as the detector parses them: " + Encoding.UTF8.GetString(normal));
        }

        var detectorPath = Projects.Detector.AssemblyPath;
        var release = detectorPath.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal);
        var recordBytes = traffic.AverageBytes + traffic.AverageKeyBytes + 20; // record overhead in a v2 batch, roughly
        report.Line(string.Create(CultureInfo.InvariantCulture, $"""
            Protocol: a fresh stack per phase through Helios.AppHost's testing entry point (embedded PostgreSQL 15, the librdkafka
            mock broker hosted in THIS process, topic events x8 partitions, the detector process {detectorPath}
            {(release ? "(Release build)" : "(WARNING: not a Release build: run the bench with -c Release)")}; api, optimizer and web removed). Detector settings:
            Helios:Detection:WindowSizeMinutes=1, AllowedLatenessSeconds={o.LatenessSeconds}, MinEventsPerWindow=10 (default), Loops={(o.Loops?.ToString(CultureInfo.InvariantCulture) ?? "default")}, DOTNET_GCgen0size=0x1000000,
            MALLOC_ARENA_MAX=2, MALLOC_MMAP_THRESHOLD_=131072, malloc: {(o.GlibcMalloc || NativeAllocator.Tcmalloc() is null ? "glibc's" : "tcmalloc (LD_PRELOAD=" + NativeAllocator.Tcmalloc() + ")")} (the AppHost's settings for the detector){(o.DetectorEnvironment.Count == 0 ? "" : ", and for this run " + string.Join(", ", o.DetectorEnvironment.Select(e => $"{e.Name}={e.Value}")))}; per phase
            Helios:Detection:Enabled / Helios:Storage:Enabled select the path. Run as root, PostgreSQL's processes share one CPU cgroup
            (AppHost:PostgresCpuWeight, a service's weight is 100, the local stack's default {PostgresServerResource.LocalStackCpuWeight}; --postgres-cpu-weight) and a memory cgroup: each phase prints them. Producer in this process, one thread writing Kafka's
            produce requests itself (Produce v3, record batches of magic 2 with CRC-32C, no compression, no idempotence) to each partition's
            leader, acks=1, up to {ProduceBatch:N0} events a request, each acknowledged before the next; key = service, partition = librdkafka's
            consistent partitioner (CRC-32 of the key).
            Events: {o.Services:N0} services in turn, {traffic.AverageBytes:0} bytes of JSON on average (bodies pre-serialized, timestamp and
            service put in per event); event time advances by 1 minute per {traffic.EventsPerWindowSlot:N0} events, so every service window
            holds exactly {o.EventsPerWindow} events (MinEventsPerWindow is 10: all are scored); in each window slot {o.StormsPerWindow} services (a different draw per slot) have an error storm
            (85 % ERROR, latency x5). Pacing: produced - consumed <= {o.BudgetMiBPerPartition:0.#} MiB per partition x 8 = {o.BudgetEvents(recordBytes):N0} events
            (at ~{recordBytes:0} bytes per record on the log; the mock keeps at most 5 MiB per partition and drops the oldest silently),
            consumed read from the detector's /metrics every {ScrapeEvery.TotalMilliseconds:0} ms (detection: events processed + dead-lettered; storage: events
            stored + skipped; with both paths the slower one paces). The producer runs {o.Seconds} s per phase, {(o.Rate is { } rate ? $"at most {rate:N0} events/s (--rate) and " : "")}as fast as the budget
            lets it; rates are counted from the first metric sample at or after {o.WarmupSeconds} s in which the consumer has counted two rounds of
            all services (the detector looks each service up in PostgreSQL on first sight: warm-up) to the last sample of producing. Then it stops,
            the consumer catches up (timeout {o.DrainTimeoutSeconds} s), and lost = produced - counted (storage: rows in `events` + skipped).
            Detector CPU = utime+stime from /proc/<pid>/stat from the start of producing to caught up; peak RSS = VmHWM, reset when
            producing starts (/proc/<pid>/clear_refs), so it is the peak while serving; the startup peak is printed apart.
            Host steal = /proc/stat's steal over the same interval as the rates, as a share of both cores' time: time this VM's
            CPUs were ready to run while its host ran something else (every process here ran slower by about that much).
            Alert latency = time this process received the alert from `{AlertsTopic}` (its own consumer, fetch.wait.max.ms=1) - the
            alert's closed_at (wall clock, set by the detector when it closed the window); alerts without closed_at are counted apart.
            Baseline: the predecessor processed 34,000 events/s on one core.
            Sample event: {Encoding.UTF8.GetString(normal)}
            Storm event:  {Encoding.UTF8.GetString(storm)}
            """));

        // Rates on this VM move with its host from day to day and run to run: a fixed piece of the detector's own work,
        // timed before any phase, says how fast the machine is now (bench/PIPELINE-HISTORY.md keeps the figures of earlier days).
        var calibration = HotPathBenchmark.FastReadNanoseconds(CalibrationEvents);
        report.Line(string.Create(CultureInfo.InvariantCulture,
            $"Machine now: the fast event read (`hotpath`'s parse fast, one thread, {CalibrationEvents:N0} events, best of 3) takes {calibration:0} ns an event."));
        var results = new List<PhaseResult>();
        foreach (var phase in o.Phases)
        {
            ct.ThrowIfCancellationRequested();
            report.Line("");
            report.Line($"-- phase {phase.Number}: {phase.Title}");
            var result = await RunPhaseAsync(phase, o, traffic, recordBytes, report, ct);
            results.Add(result);
            PrintPhase(report, result);
        }

        report.Line("");
        report.Line("Summary (rates over each phase's sustained interval; detector CPU from the start of producing to caught up):");
        report.Table(["phase", "events_per_s", "detector_cpu_s", "events_per_cpu_s", "lost", "alerts", "p50_ms", "p99_ms", "peak_rss_mb", "host_steal_pct"],
            results.Select(r => (IReadOnlyList<object?>)[
                $"{r.Phase.Number} {r.Phase.Name}", r.Rate, r.DetectorCpuSeconds, r.EventsPerCpuSecond, N(r.Lost),
                r.Phase.Detect ? N(r.AlertLatenciesMs.Count + r.AlertsWithoutClosedAt) : "", r.P(50), r.P(99), r.PeakRssMb, r.StolenPercent,
            ]));

        var detect = results.FirstOrDefault(r => r.Phase is { Detect: true, Store: false });
        var store = results.FirstOrDefault(r => r.Phase is { Detect: false, Store: true });
        var both = results.FirstOrDefault(r => r.Phase is { Detect: true, Store: true });
        var latencies = results.Where(r => r.Phase.Detect).SelectMany(r => r.SustainedAlertLatenciesMs).ToArray();
        var allLatencies = results.Where(r => r.Phase.Detect).SelectMany(r => r.AlertLatenciesMs).ToArray();
        var fromDetectedAt = results.Where(r => r.Phase.Detect).SelectMany(r => r.DetectedAtLatenciesMs).ToArray();
        return new JsonObject
        {
            ["detect_events_per_s"] = Rounded(detect?.Rate),
            ["store_events_per_s"] = Rounded(store?.Rate),
            ["events_per_s"] = Rounded(both?.Rate),
            ["p50_ms"] = latencies.Length == 0 ? null : Math.Round(Percentiles.Linear(latencies.ToArray(), 50), 1),
            ["p99_ms"] = latencies.Length == 0 ? null : Math.Round(Percentiles.Linear(latencies.ToArray(), 99), 1),
            ["peak_rss_mb"] = results.Count == 0 ? null : Math.Round(results.Max(r => r.PeakRssMb), 1),
            ["lost_events"] = results.Sum(r => r.Lost),
            ["detector_cpu_events_per_s"] = Rounded(detect?.EventsPerCpuSecond),
            ["both_detect_events_per_s"] = Rounded(both?.DetectRate),
            ["both_store_events_per_s"] = Rounded(both?.StoreRate),
            ["alerts"] = allLatencies.Length,
            ["alerts_sustained"] = latencies.Length,
            ["p99_ms_all_alerts"] = allLatencies.Length == 0 ? null : Math.Round(Percentiles.Linear(allLatencies, 99), 1),
            ["alerts_without_closed_at"] = results.Where(r => r.Phase.Detect).Sum(r => r.AlertsWithoutClosedAt),
            ["p50_ms_from_detected_at"] = fromDetectedAt.Length == 0 ? null : Math.Round(Percentiles.Linear(fromDetectedAt, 50), 1),
            ["p99_ms_from_detected_at"] = fromDetectedAt.Length == 0 ? null : Math.Round(Percentiles.Linear(fromDetectedAt, 99), 1),
            ["max_low_watermark"] = results.Count == 0 ? 0 : results.Max(r => r.LowWatermarks.DefaultIfEmpty(0).Max()),
            ["services"] = o.Services,
            ["events_per_window"] = o.EventsPerWindow,
            ["event_bytes"] = Math.Round(traffic.AverageBytes),
            ["phase_seconds"] = o.Seconds,
            ["detector_release"] = release,
            ["calibration_parse_fast_ns"] = Math.Round(calibration, 1),
            ["phases"] = new JsonArray([.. results.Select(r => (JsonNode)r.ToJson())]),
        };
    }

    private static double? Rounded(double? value) => value is { } v && double.IsFinite(v) ? Math.Round(v) : null;

    private static async Task<PhaseResult> RunPhaseAsync(PipelinePhase phase, PipelineOptions o, PipelineTraffic traffic, double recordBytes, Report report, CancellationToken ct)
    {
        var result = new PhaseResult(phase);
        var starting = Stopwatch.StartNew();
        await using var app = await DistributedApplicationTestingBuilder.CreateAsync(b =>
        {
            // Only what the pipeline needs: PostgreSQL, the helios database, the broker and the detector.
            b.Resources.RemoveAll(r => r.Name is "api" or "optimizer" or "web");
            var detector = b.Resources.OfType<ProjectResource>().Single(r => r.Name == "detector");
            detector.Environment["Helios__Detection__Enabled"] = phase.Detect ? "true" : "false";
            detector.Environment["Helios__Storage__Enabled"] = phase.Store ? "true" : "false";
            detector.Environment["Helios__Detection__WindowSizeMinutes"] = "1";
            detector.Environment["Helios__Detection__AllowedLatenessSeconds"] = o.LatenessSeconds.ToString(CultureInfo.InvariantCulture);
            if (o.GlibcMalloc)
            {
                detector.Environment.Remove("LD_PRELOAD");
            }

            foreach (var (name, value) in o.DetectorEnvironment)
            {
                detector.Environment[name] = value;
            }

            if (o.Loops is { } loops)
            {
                detector.Environment["Helios__Detection__Loops"] = loops.ToString(CultureInfo.InvariantCulture);
            }
        }, o.PostgresCpuWeight is { } weight ? [$"--AppHost:PostgresCpuWeight={weight.ToString(CultureInfo.InvariantCulture)}"] : null, ct);
        using (var startup = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            startup.CancelAfter(TimeSpan.FromMinutes(4));
            await app.StartAsync(startup.Token);
        }

        result.StartupSeconds = starting.Elapsed.TotalSeconds;
        var postgres = (PostgresServerResource)app["postgres"];
        report.Progress(string.Create(CultureInfo.InvariantCulture, $"PostgreSQL: {(postgres.Server?.CpuCgroupDirectory is null
            ? "no CPU cgroup (not root, or no cpu controller here): each backend is scheduled on its own"
            : $"CPU cgroup of weight {postgres.CpuWeight}")}, {(postgres.Server?.MemoryCgroupDirectory is null ? "no memory cgroup" : $"memory cgroup of {postgres.MemoryLimitMiB} MiB")}"));

        var detectorResource = (ProjectResource)app["detector"];
        var pid = detectorResource.ProcessId ?? throw new InvalidOperationException("The detector has no process id.");
        var kafka = (KafkaResource)app["kafka"];
        var bootstrap = kafka.ConnectionString!;
        var partitions = kafka.Topics.Single(t => t.Name == EventsTopic).Partitions;
        var budget = o.BudgetEvents(recordBytes, partitions);
        var postgresData = ((PostgresServerResource)app["postgres"]).DataDirectory;
        report.Progress(string.Create(CultureInfo.InvariantCulture, $"stack healthy in {result.StartupSeconds:0.0} s (detector pid {pid}); producing for {o.Seconds} s, backlog budget {budget:N0} events"));

        using var metricsClient = app.CreateHttpClient("detector");
        metricsClient.Timeout = TimeSpan.FromSeconds(10);
        using var alerts = new AlertListener(bootstrap, kafka.Topics.Single(t => t.Name == AlertsTopic).Partitions);
        var progress = new Progress(phase);
        using var stopScraping = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var clock = Stopwatch.StartNew();
        var producingStartedAt = DateTimeOffset.UtcNow;
        var scraping = ScrapeAsync(metricsClient, progress, clock, report, stopScraping.Token);

        // Startup (migrations, the bootstrap model trained on synthetic days on a fresh database) is one-off:
        // its peak is reported apart, and the peak while serving the 10,000 services is counted from here.
        result.StartupPeakRssMb = ProcStat.PeakRssMb(pid);
        result.PeakRssFromProducing = ProcStat.ResetPeakRss(pid);
        var cpu0 = ProcStat.CpuSeconds(pid);
        var pg0 = ProcStat.PostgresCpuSeconds(postgresData);
        var self0 = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        var machine0 = ProcStat.MachineTicks();
        var generator = traffic.NewGenerator();
        var produced = await Task.Factory.StartNew(
            () => Produce(bootstrap, traffic, generator, partitions, progress, budget, o.Rate, TimeSpan.FromSeconds(o.Seconds), clock, ct),
            ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        result.ProducingSeconds = progress.ProducingEnded;
        result.Produced = produced;
        result.StormEvents = generator.StormEvents;
        result.EventTimeEnd = traffic.EventTime(progress.Enqueued);
        report.Progress(string.Create(CultureInfo.InvariantCulture, $"producing stopped at {result.ProducingSeconds:0.0} s: {produced:N0} acknowledged by the broker; waiting for the consumer to catch up"));

        // Caught up: every produced event counted by each path that runs, then the last windows scored.
        var drain = Stopwatch.StartNew();
        var lastChange = Stopwatch.StartNew();
        var seen = progress.Latest;
        while (drain.Elapsed < TimeSpan.FromSeconds(o.DrainTimeoutSeconds) && !progress.CaughtUp(produced) && lastChange.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(ScrapeEvery, ct);
            if (progress.Latest != seen)
            {
                seen = progress.Latest;
                lastChange.Restart();
            }
        }

        result.CaughtUp = progress.CaughtUp(produced);
        result.DrainSeconds = drain.Elapsed.TotalSeconds;
        if (phase.Detect)
        {
            // Windows closed by the last events are scored after those events are counted: wait until scoring stops.
            var scored = progress.Latest.WindowsScored;
            var quiet = Stopwatch.StartNew();
            var waited = Stopwatch.StartNew();
            while (quiet.Elapsed < TimeSpan.FromSeconds(2) && waited.Elapsed < TimeSpan.FromSeconds(60))
            {
                await Task.Delay(ScrapeEvery, ct);
                if (progress.Latest.WindowsScored != scored)
                {
                    scored = progress.Latest.WindowsScored;
                    quiet.Restart();
                }
            }

            await Task.Delay(TimeSpan.FromSeconds(1), ct); // the last alerts' way through the topic
        }

        result.DetectorCpuSeconds = ProcStat.CpuSeconds(pid) - cpu0;
        result.PostgresCpuSeconds = ProcStat.PostgresCpuSeconds(postgresData) - pg0;
        result.BenchCpuSeconds = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - self0;
        result.MachineBusyPercent = ProcStat.BusyPercent(machine0, ProcStat.MachineTicks());
        result.WallSeconds = clock.Elapsed.TotalSeconds;
        result.PeakRssMb = ProcStat.PeakRssMb(pid);
        result.DetectorRestarts = detectorResource.Restarts;
        await stopScraping.CancelAsync();
        await scraping;
        alerts.Stop();

        var final = progress.Latest;
        result.Final = final;
        result.MaxBacklog = progress.MaxBacklog;
        (result.DetectRate, result.StoreRate, result.RateFrom, result.RateTo, result.StolenPercent) = progress.Rates(o.WarmupSeconds, 2L * o.Services, result.ProducingSeconds);
        if (phase.Store)
        {
            await using var db = NpgsqlDataSource.Create(app.GetConnectionString("helios")!);
            await using var count = db.CreateCommand("SELECT count(*) FROM events");
            result.RowsStored = (long)(await count.ExecuteScalarAsync(ct))!;

            // The per-minute sums trail the rows by about a second: each stored event must be counted there once.
            await using var counted = db.CreateCommand("SELECT coalesce(sum(events), 0)::bigint FROM event_minutes");
            for (var wait = Stopwatch.StartNew(); ;)
            {
                result.MinuteEvents = (long)(await counted.ExecuteScalarAsync(ct))!;
                if (result.MinuteEvents == result.RowsStored || wait.Elapsed > TimeSpan.FromSeconds(15))
                {
                    break;
                }

                await Task.Delay(250, ct);
            }
        }

        (result.LowWatermarks, result.HighWatermarks) = Watermarks(bootstrap, partitions);
        // No per-message delivery reports (their callbacks cost the producer CPU the detector competes for): the
        // broker's high watermarks say what it accepted, and any event it did not is missing from the counts too.
        result.NotAccepted = result.Produced - result.HighWatermarks.Sum();
        foreach (var alert in alerts.Received)
        {
            if (alert.ClosedAt is { } closed)
            {
                var ms = (alert.ReceivedAt - closed).TotalMilliseconds;
                result.AlertSlots.Add((ms, alert));
                // Like the rates, the latency figures are those of the sustained interval (warm-up excluded).
                if (closed >= producingStartedAt.AddSeconds(result.RateFrom) && closed <= producingStartedAt.AddSeconds(result.RateTo))
                {
                    result.SustainedAlertLatenciesMs.Add(ms);
                }
            }
            else
            {
                result.AlertsWithoutClosedAt++;
            }

            if (alert.DetectedAt is { } detected)
            {
                result.DetectedAtLatenciesMs.Add((alert.ReceivedAt - detected).TotalMilliseconds);
            }
        }

        result.AlertsStorm = alerts.Received.Count(a => a.Service is { } s && IsStorm(traffic, s, a.WindowStart));
        result.DistinctAlertIds = alerts.Received.Select(a => a.Id).Distinct().Count();
        if (result.DetectorRestarts > 0)
        {
            report.Line($"WARNING: the detector restarted {result.DetectorRestarts} time(s) during this phase; its CPU and RSS figures cover the last process only. Last output:");
            foreach (var line in app.Log.Tail("detector", 20))
            {
                report.Line("   " + line);
            }
        }

        report.Progress("stopping the stack");
        return result;
    }

    private static bool IsStorm(PipelineTraffic traffic, string service, DateTimeOffset? windowStart)
    {
        if (windowStart is not { } start || !int.TryParse(service.AsSpan(4), NumberStyles.None, CultureInfo.InvariantCulture, out var s))
        {
            return false;
        }

        var slot = (long)Math.Floor((start.UtcDateTime - PipelineTraffic.EventTimeStart).TotalMinutes / traffic.Window.TotalMinutes);
        return slot >= 0 && traffic.StormServices(slot).Contains(s);
    }

    /// <summary>Events produced between two looks at the budget (at most one request per partition leader).</summary>
    private const int ProduceBatch = 2_000;

    /// <summary>
    /// Produces events in order, never more than <paramref name="budget"/> ahead of the slower path's consumer, and
    /// returns how many once the broker has acknowledged all of them.
    /// </summary>
    private static long Produce(string bootstrap, PipelineTraffic traffic, PipelineTraffic.Generator generator, int partitions, Progress progress, long budget, long? rate,
        TimeSpan duration, Stopwatch clock, CancellationToken ct)
    {
        using var producer = new WireProducer(bootstrap, EventsTopic, partitions, batchBytes: 1024 * 1024);
        var partitionOf = Enumerable.Range(0, traffic.Services).Select(s => WireProducer.PartitionOf(traffic.Key(s), partitions)).ToArray();
        Span<byte> value = stackalloc byte[PipelineTraffic.MaxEventBytes];
        long n = 0;
        // At a fixed rate (--rate), a request goes out once 5 ms of events are due; events more than 50 ms overdue (the
        // budget or a busy machine held the producer back) are let go rather than sent in a burst later.
        var least = rate is { } r0 ? Math.Clamp(r0 / 200, 1, ProduceBatch) : 1;
        long forgiven = 0;
        while (clock.Elapsed < duration && !ct.IsCancellationRequested)
        {
            var room = progress.Consumed + budget - n;
            if (rate is { } r)
            {
                var due = (long)(r * clock.Elapsed.TotalSeconds) - forgiven - n;
                if (due > r / 20)
                {
                    forgiven += due - r / 20;
                    due = r / 20;
                }

                room = Math.Min(room, due);
            }

            if (room < least)
            {
                Thread.Sleep(1);
                continue;
            }

            for (var i = Math.Min(room, ProduceBatch); i > 0; i--)
            {
                var length = generator.Write(n, value, out var key);
                var partition = partitionOf[traffic.ServiceOf(n)];
                if (!producer.Fits(partition, key.Length, length))
                {
                    producer.Send();
                }

                producer.Add(partition, key, value[..length]);
                n++;
            }

            // Acknowledged by the broker once this returns.
            producer.Send();
            progress.Enqueued = n;
        }

        progress.ProducingEnded = clock.Elapsed.TotalSeconds;
        return n;
    }

    /// <summary>Reads the detector's counters every 50 ms; prints a progress line every 5 s.</summary>
    private static async Task ScrapeAsync(HttpClient client, Progress progress, Stopwatch clock, Report report, CancellationToken ct)
    {
        var nextReport = ProgressEvery;
        var lastReported = new Sample(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ProcStat.MachineTicks());
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var text = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative), ct);
                var values = ParseMetrics(text);
                double V(string name) => values.GetValueOrDefault(name);
                var sample = new Sample(clock.Elapsed.TotalSeconds, progress.Enqueued,
                    (long)V("helios_detection_events_processed_total"), (long)V("helios_detection_dead_lettered_total"),
                    (long)V("helios_detection_late_events_total"), (long)V("helios_detection_replayed_events_total"),
                    (long)V("helios_detection_windows_scored_total"), (long)V("helios_anomalies_detected_total"),
                    (long)V("helios_detection_open_windows"), (long)V("helios_storage_events_stored_total"),
                    (long)V("helios_storage_events_skipped_total"), (long)V("helios_detection_consumer_lag"), ProcStat.MachineTicks());
                progress.Add(sample);
                if (sample.Seconds >= nextReport.TotalSeconds)
                {
                    var dt = sample.Seconds - lastReported.Seconds;
                    var parts = new List<string> { string.Create(CultureInfo.InvariantCulture, $"t={sample.Seconds,5:0.0}s produced {sample.Produced,10:N0}") };
                    if (progress.Phase.Detect)
                    {
                        parts.Add(string.Create(CultureInfo.InvariantCulture,
                            $"detection {sample.DetectCounted,10:N0} ({(sample.DetectCounted - lastReported.DetectCounted) / dt,7:N0}/s, windows scored {sample.WindowsScored:N0}, open {sample.OpenWindows:N0})"));
                    }

                    if (progress.Phase.Store)
                    {
                        parts.Add(string.Create(CultureInfo.InvariantCulture, $"storage {sample.StoreCounted,10:N0} ({(sample.StoreCounted - lastReported.StoreCounted) / dt,7:N0}/s)"));
                    }

                    parts.Add(string.Create(CultureInfo.InvariantCulture, $"backlog {sample.Produced - progress.ConsumedOf(sample):N0}"));
                    if (ProcStat.StolenPercent(lastReported.Machine, sample.Machine) is var stolen && !double.IsNaN(stolen))
                    {
                        parts.Add(string.Create(CultureInfo.InvariantCulture, $"host stole {stolen:0}%"));
                    }
                    report.Progress(string.Join("  ", parts));
                    lastReported = sample;
                    nextReport += ProgressEvery;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                report.Progress("metrics scrape failed: " + ex.Message);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(ScrapeEvery, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static Dictionary<string, double> ParseMetrics(string text)
    {
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (Match m in MetricLine().Matches(text))
        {
            if (double.TryParse(m.Groups["value"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
            {
                var name = m.Groups["name"].Value;
                values[name] = values.GetValueOrDefault(name) + v;
            }
        }

        return values;
    }

    private static (long[] Low, long[] High) Watermarks(string bootstrap, int partitions)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "helios-bench-watermarks",
            EnableAutoCommit = false,
        }).Build();
        var low = new long[partitions];
        var high = new long[partitions];
        for (var p = 0; p < partitions; p++)
        {
            var w = consumer.QueryWatermarkOffsets(new TopicPartition(EventsTopic, p), TimeSpan.FromSeconds(10));
            low[p] = w.Low.Value;
            high[p] = w.High.Value;
        }

        consumer.Close();
        return (low, high);
    }

    private static void PrintPhase(Report report, PhaseResult r)
    {
        var p = r.Phase;
        var f = r.Final;
        var rows = new List<IReadOnlyList<object?>>
        {
            Row("stack start (s)", Fmt(r.StartupSeconds)),
            Row("producing (s) / caught up after (s)", $"{Fmt(r.ProducingSeconds)} / {Fmt(r.DrainSeconds)}{(r.CaughtUp ? "" : " (NOT caught up: timeout)")}"),
            Row("events produced and acknowledged by the broker", N(r.Produced)),
            Row("  storm events among them", N(r.StormEvents)),
            Row("  not accepted by the broker (produced - high watermarks)", N(r.NotAccepted)),
            Row("  sum of high watermarks", N(r.HighWatermarks.Sum())),
            Row("event time reached", r.EventTimeEnd.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)),
            Row("max backlog seen (events)", N(r.MaxBacklog)),
        };
        if (p.Detect)
        {
            rows.Add(Row("detection: processed + dead-lettered", N(f.DetectCounted)));
            rows.Add(Row("  of which late / replayed / dead-lettered", $"{f.Late:N0} / {f.Replayed:N0} / {f.DeadLettered:N0}"));
            rows.Add(Row("  lost (produced - counted)", N(r.Produced - f.DetectCounted)));
            rows.Add(Row($"  rate {Fmt(r.RateFrom)}-{Fmt(r.RateTo)} s (events/s)", r.DetectRate));
            rows.Add(Row("  windows scored / flagged anomalous", $"{f.WindowsScored:N0} / {f.Anomalies:N0}"));
            rows.Add(Row("  alerts received (distinct ids; storm windows)", $"{r.AlertLatenciesMs.Count + r.AlertsWithoutClosedAt:N0} ({r.DistinctAlertIds:N0}; {r.AlertsStorm:N0})"));
            rows.Add(Row($"  alert latency from closed_at, windows closed {Fmt(r.RateFrom)}-{Fmt(r.RateTo)} s: p50 / p99 / max (ms)", r.SustainedAlertLatenciesMs.Count == 0
                ? $"n/a ({r.AlertsWithoutClosedAt} alerts without closed_at)" : $"{Fmt(r.P(50))} / {Fmt(r.P(99))} / {Fmt(r.SustainedAlertLatenciesMs.Max())} ({r.SustainedAlertLatenciesMs.Count} alerts)"));
            rows.Add(Row("  same, every alert of the phase (warm-up included)", r.AlertLatenciesMs.Count == 0
                ? "n/a" : $"{Fmt(Pct(r.AlertLatenciesMs, 50))} / {Fmt(Pct(r.AlertLatenciesMs, 99))} / {Fmt(r.AlertLatenciesMs.Max())}"));
            rows.Add(Row("  slowest alerts from closed_at (window start: ms = to detected_at + to the produce call + to here)", string.Join("  ", r.AlertSlots.OrderByDescending(a => a.Ms).Take(4)
                .Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Alert.WindowStart:HH:mm}: {a.Ms:0} = {Part(a.Alert.ClosedAt, a.Alert.DetectedAt)} + {Part(a.Alert.DetectedAt, a.Alert.ProducedAt)} + {Part(a.Alert.ProducedAt, a.Alert.ReceivedAt)}")))));
            rows.Add(Row("  same from detected_at p50 / p99 / max (ms)", r.DetectedAtLatenciesMs.Count == 0 ? "n/a" : $"{Fmt(Pct(r.DetectedAtLatenciesMs, 50))} / {Fmt(Pct(r.DetectedAtLatenciesMs, 99))} / {Fmt(r.DetectedAtLatenciesMs.Max())}"));
        }

        if (p.Store)
        {
            rows.Add(Row("storage: rows in events + skipped", N(r.RowsStored + f.Skipped)));
            rows.Add(Row("  metric stored + skipped", N(f.StoreCounted)));
            rows.Add(Row("  lost (produced - rows - skipped)", N(r.Produced - r.RowsStored - f.Skipped)));
            rows.Add(Row("  counted in event_minutes (per-minute sums; lost if not the rows)", N(r.MinuteEvents)));
            rows.Add(Row($"  rate {Fmt(r.RateFrom)}-{Fmt(r.RateTo)} s (rows/s)", r.StoreRate));
        }

        if (p is { Detect: true, Store: true })
        {
            rows.Add(Row("end to end rate (the slower path, events/s)", r.Rate));
        }

        rows.Add(Row("detector CPU s (producing start to caught up)", r.DetectorCpuSeconds));
        rows.Add(Row("events per detector CPU-second", r.EventsPerCpuSecond));
        rows.Add(Row("PostgreSQL CPU s / this process CPU s (producer, broker)", $"{Fmt(r.PostgresCpuSeconds)} / {Fmt(r.BenchCpuSeconds)}"));
        rows.Add(Row("machine CPU busy, both cores, steal included (%)", r.MachineBusyPercent));
        rows.Add(Row($"of both cores' time, taken by the host (steal), {Fmt(r.RateFrom)}-{Fmt(r.RateTo)} s (%)", r.StolenPercent));
        rows.Add(Row("detector peak RSS at startup (VmHWM, MB)", r.StartupPeakRssMb));
        rows.Add(Row(r.PeakRssFromProducing ? "detector peak RSS while serving (VmHWM reset at producing start, MB)" : "detector peak RSS, startup included (VmHWM could not be reset, MB)", r.PeakRssMb));
        rows.Add(Row("mock low watermarks per partition", string.Join(' ', r.LowWatermarks)));
        rows.Add(Row("lost events (this phase)", N(r.Lost)));
        report.Table(["quantity", "value"], rows);
        if (r.LowWatermarks.Any(l => l > 0))
        {
            report.Line("   (a low watermark above 0: the mock dropped that partition's oldest data at its 5 MiB cap; whether any of it was dropped unread shows in lost)");
        }
    }

    private static string Part(DateTimeOffset? from, DateTimeOffset? to) =>
        from is { } a && to is { } b ? ((long)Math.Round((b - a).TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) : "?"; // whole ms: the record's timestamp has no finer

    private static IReadOnlyList<object?> Row(string name, object? value) => [name, value is double d ? Fmt(d) : value];

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Fmt(double value) => value switch
    {
        double.NaN => "n/a",
        >= 1000 => value.ToString("N0", CultureInfo.InvariantCulture),
        >= 10 => value.ToString("0.0", CultureInfo.InvariantCulture),
        _ => value.ToString("0.##", CultureInfo.InvariantCulture),
    };

    private static double Pct(List<double> values, double percent) => values.Count == 0 ? double.NaN : Percentiles.Linear(values.ToArray(), percent);

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex MetricLine();

    private sealed record Sample(
        double Seconds, long Produced, long Processed, long DeadLettered, long Late, long Replayed, long WindowsScored, long Anomalies,
        long OpenWindows, long Stored, long Skipped, long Lag, (long Busy, long Total, long Stolen) Machine)
    {
        /// <summary>Events the detection path has handled (processed includes late and replayed ones).</summary>
        public long DetectCounted => Processed + DeadLettered;

        public long StoreCounted => Stored + Skipped;
    }

    /// <summary>Shared between the producer thread and the scraper.</summary>
    private sealed class Progress(PipelinePhase phase)
    {
        private readonly List<Sample> _samples = [];
        private long _enqueued;
        private long _consumed;
        private long _maxBacklog;
        private Sample _latest = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, default);

        public PipelinePhase Phase { get; } = phase;

        public long Enqueued
        {
            get => Volatile.Read(ref _enqueued);
            set => Volatile.Write(ref _enqueued, value);
        }

        /// <summary>What the slower of the running paths has counted (paces the producer).</summary>
        public long Consumed => Volatile.Read(ref _consumed);

        public long MaxBacklog => Volatile.Read(ref _maxBacklog);

        public double ProducingEnded { get; set; }

        public Sample Latest => Volatile.Read(ref _latest);

        public void Add(Sample sample)
        {
            lock (_samples)
            {
                _samples.Add(sample);
            }

            var consumed = ConsumedOf(sample);
            Volatile.Write(ref _consumed, consumed);
            Volatile.Write(ref _latest, sample);
            if (sample.Produced - consumed > _maxBacklog)
            {
                Volatile.Write(ref _maxBacklog, sample.Produced - consumed);
            }
        }

        public bool CaughtUp(long delivered) => ConsumedOf(Latest) >= delivered;

        /// <summary>What the slower of the running paths has counted.</summary>
        public long ConsumedOf(Sample sample) => Phase switch
        {
            { Detect: true, Store: true } => Math.Min(sample.DetectCounted, sample.StoreCounted),
            { Detect: true } => sample.DetectCounted,
            _ => sample.StoreCounted,
        };

        /// <summary>
        /// Detection and storage rates between the first sample at or after <paramref name="from"/> seconds in which the slower path
        /// has counted <paramref name="warmEvents"/> events, and the last sample at or before <paramref name="to"/>.
        /// </summary>
        public (double Detect, double Store, double From, double To, double Stolen) Rates(double from, long warmEvents, double to)
        {
            Sample[] samples;
            lock (_samples)
            {
                samples = [.. _samples];
            }

            var a = samples.FirstOrDefault(s => s.Seconds >= from && ConsumedOf(s) >= warmEvents);
            var b = samples.LastOrDefault(s => s.Seconds <= to);
            if (a is null || b is null || b.Seconds <= a.Seconds)
            {
                return (double.NaN, double.NaN, from, to, double.NaN);
            }

            var dt = b.Seconds - a.Seconds;
            return (Phase.Detect ? (b.DetectCounted - a.DetectCounted) / dt : double.NaN, Phase.Store ? (b.StoreCounted - a.StoreCounted) / dt : double.NaN, a.Seconds, b.Seconds,
                ProcStat.StolenPercent(a.Machine, b.Machine));
        }
    }

    /// <summary>An alert as the listener read it; <paramref name="ProducedAt"/> is the record's timestamp (the detector's produce call, to the millisecond).</summary>
    private sealed record ReceivedAlert(Guid? Id, string? Service, DateTimeOffset? WindowStart, DateTimeOffset ReceivedAt, DateTimeOffset? ClosedAt, DateTimeOffset? DetectedAt,
        DateTimeOffset? ProducedAt);

    /// <summary>Reads the alerts topic from the beginning on its own thread and notes when each alert arrived.</summary>
    private sealed class AlertListener : IDisposable
    {
        private readonly IConsumer<Ignore, byte[]> _consumer;
        private readonly Thread _thread;
        private readonly List<ReceivedAlert> _received = [];
        private volatile bool _stop;
        private bool _stopped;

        public AlertListener(string bootstrap, int partitions)
        {
            _consumer = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = "helios-bench-alerts",
                EnableAutoCommit = false,
                // The mock answers an empty fetch only after fetch.wait.max.ms (it does not wake on new data):
                // keep that short so the measured latency is the detector's, not this consumer's.
                FetchWaitMaxMs = 1,
            }).Build();
            _consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(AlertsTopic, p, Offset.Beginning)));
            _thread = new Thread(Run) { IsBackground = true, Name = "bench-alerts" };
            _thread.Start();
        }

        public IReadOnlyList<ReceivedAlert> Received
        {
            get
            {
                lock (_received)
                {
                    return [.. _received];
                }
            }
        }

        public void Stop()
        {
            if (_stopped)
            {
                return;
            }

            _stopped = true;
            _stop = true;
            _thread.Join();
            _consumer.Close();
        }

        public void Dispose()
        {
            Stop();
            _consumer.Dispose();
        }

        private void Run()
        {
            while (!_stop)
            {
                ConsumeResult<Ignore, byte[]>? message;
                try
                {
                    message = _consumer.Consume(TimeSpan.FromMilliseconds(100));
                }
                catch (ConsumeException)
                {
                    continue;
                }

                if (message?.Message?.Value is not { } value)
                {
                    continue;
                }

                var received = DateTimeOffset.UtcNow;
                try
                {
                    using var doc = JsonDocument.Parse(value);
                    var root = doc.RootElement;
                    var alert = new ReceivedAlert(
                        root.TryGetProperty("id", out var id) && id.TryGetGuid(out var g) ? g : null,
                        root.TryGetProperty("service", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null,
                        Time(root, "window_start"), received, Time(root, "closed_at"), Time(root, "detected_at"),
                        message.Message.Timestamp.Type == TimestampType.CreateTime ? DateTimeOffset.FromUnixTimeMilliseconds(message.Message.Timestamp.UnixTimestampMs) : null);
                    lock (_received)
                    {
                        _received.Add(alert);
                    }
                }
                catch (JsonException)
                {
                    // Not an alert: ignored.
                }
            }
        }

        private static DateTimeOffset? Time(JsonElement root, string name) =>
            root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(v.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t : null;
    }

    private sealed class PhaseResult(PipelinePhase phase)
    {
        public PipelinePhase Phase { get; } = phase;

        public double StartupSeconds { get; set; }

        public double ProducingSeconds { get; set; }

        public double DrainSeconds { get; set; }

        public double WallSeconds { get; set; }

        public bool CaughtUp { get; set; }

        public long Produced { get; set; }

        public long NotAccepted { get; set; }

        public long StormEvents { get; set; }

        public DateTime EventTimeEnd { get; set; }

        public long MaxBacklog { get; set; }

        public Sample Final { get; set; } = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, default);

        public long RowsStored { get; set; }

        /// <summary>Events counted by the per-minute aggregates (<c>event_minutes</c>) once caught up.</summary>
        public long MinuteEvents { get; set; }

        public double DetectRate { get; set; } = double.NaN;

        public double StoreRate { get; set; } = double.NaN;

        public double RateFrom { get; set; }

        public double RateTo { get; set; }

        /// <summary>The phase's rate: its one path, or with both the slower one (both must have finished the events).</summary>
        public double Rate => Phase switch
        {
            { Detect: true, Store: true } => Math.Min(DetectRate, StoreRate),
            { Detect: true } => DetectRate,
            _ => StoreRate,
        };

        public double DetectorCpuSeconds { get; set; }

        public double PostgresCpuSeconds { get; set; }

        public double BenchCpuSeconds { get; set; }

        public double MachineBusyPercent { get; set; }

        /// <summary>The share of both cores the host took over the sustained interval (/proc/stat's steal), in %.</summary>
        public double StolenPercent { get; set; }

        public double EventsPerCpuSecond => DetectorCpuSeconds > 0 ? Produced / DetectorCpuSeconds : double.NaN;

        public double PeakRssMb { get; set; }

        public double StartupPeakRssMb { get; set; }

        public bool PeakRssFromProducing { get; set; }

        public int DetectorRestarts { get; set; }

        public long[] LowWatermarks { get; set; } = [];

        public long[] HighWatermarks { get; set; } = [];

        /// <summary>Latencies from closed_at of every alert of the phase (warm-up included).</summary>
        public List<double> AlertLatenciesMs => [.. AlertSlots.Select(a => a.Ms)];

        public List<double> DetectedAtLatenciesMs { get; } = [];

        /// <summary>Latencies from closed_at of the alerts whose window closed in the sustained interval (what the rates cover).</summary>
        public List<double> SustainedAlertLatenciesMs { get; } = [];

        /// <summary>Each alert's window start and latency from closed_at: whether the slowest share a slot (say, the first).</summary>
        public List<(double Ms, ReceivedAlert Alert)> AlertSlots { get; } = [];

        public int AlertsWithoutClosedAt { get; set; }

        public int AlertsStorm { get; set; }

        public int DistinctAlertIds { get; set; }

        /// <summary>
        /// Produced events a running path did not count, summed over the phase's paths (over-counts are not offset), and
        /// stored events the per-minute aggregates count other than once.
        /// </summary>
        public long Lost =>
            (Phase.Detect ? Math.Max(0, Produced - Final.DetectCounted) : 0)
            + (Phase.Store ? Math.Max(0, Produced - RowsStored - Final.Skipped) + Math.Abs(RowsStored - MinuteEvents) : 0);

        public double P(double percent) => Pct(SustainedAlertLatenciesMs, percent);

        public JsonObject ToJson() => new()
        {
            ["phase"] = Phase.Name,
            ["events_produced"] = Produced,
            ["producing_s"] = Math.Round(ProducingSeconds, 1),
            ["detect_events_per_s"] = Rounded(Phase.Detect ? DetectRate : null),
            ["store_events_per_s"] = Rounded(Phase.Store ? StoreRate : null),
            ["minute_events"] = Phase.Store ? MinuteEvents : null,
            ["detector_cpu_s"] = Math.Round(DetectorCpuSeconds, 1),
            ["events_per_cpu_s"] = Rounded(EventsPerCpuSecond),
            ["postgres_cpu_s"] = Math.Round(PostgresCpuSeconds, 1),
            ["machine_busy_pct"] = Math.Round(MachineBusyPercent, 1),
            ["host_steal_pct"] = double.IsNaN(StolenPercent) ? null : Math.Round(StolenPercent, 1),
            ["peak_rss_mb"] = Math.Round(PeakRssMb, 1),
            ["startup_peak_rss_mb"] = Math.Round(StartupPeakRssMb, 1),
            ["peak_rss_while_serving"] = PeakRssFromProducing,
            ["lost_events"] = Lost,
            ["alerts"] = AlertLatenciesMs.Count + AlertsWithoutClosedAt,
            ["p50_ms"] = SustainedAlertLatenciesMs.Count == 0 ? null : Math.Round(P(50), 1),
            ["p99_ms"] = SustainedAlertLatenciesMs.Count == 0 ? null : Math.Round(P(99), 1),
            ["max_low_watermark"] = LowWatermarks.DefaultIfEmpty(0).Max(),
            ["detector_restarts"] = DetectorRestarts,
        };
    }
}

internal sealed record PipelinePhase(int Number, string Name, string Title, bool Detect, bool Store)
{
    public static readonly PipelinePhase[] All =
    [
        new(1, "detect", "detection path only (Helios:Storage:Enabled=false)", Detect: true, Store: false),
        new(2, "store", "storage path only (Helios:Detection:Enabled=false)", Detect: false, Store: true),
        new(3, "both", "detection and storage (the default)", Detect: true, Store: true),
    ];
}

/// <summary>`pipeline [--seconds 90] [--services 10000] [--events-per-window 20] [--storms 5] [--warmup 30] [--budget-mib 3.5] [--lateness 5] [--drain-timeout 180] [--phases detect,store,both] [--loops N] [--rate EVENTS_PER_S] [--postgres-cpu-weight N] [--glibc-malloc] [--env NAME=VALUE]...`.</summary>
internal sealed record PipelineOptions(
    int Seconds, int Services, int EventsPerWindow, int StormsPerWindow, int WarmupSeconds, double BudgetMiBPerPartition, int LatenessSeconds,
    int DrainTimeoutSeconds, IReadOnlyList<PipelinePhase> Phases, int? Loops = null, bool GlibcMalloc = false, long? Rate = null,
    int? PostgresCpuWeight = null)
{
    public const string Usage = "pipeline [--seconds 90] [--services 10000] [--events-per-window 20] [--storms 5] [--warmup 30] [--budget-mib 3.5] [--lateness 5] [--drain-timeout 180] [--phases detect,store,both] [--loops N] [--rate EVENTS_PER_S] [--postgres-cpu-weight N] [--glibc-malloc] [--env NAME=VALUE]...";

    /// <summary>Environment variables set on the detector process on top of the AppHost's (a setting measured before it is kept).</summary>
    public IReadOnlyList<(string Name, string Value)> DetectorEnvironment { get; init; } = [];

    public static PipelineOptions Parse(string[] args)
    {
        var o = new PipelineOptions(90, 10_000, 20, 5, 30, 3.5, 5, 180, PipelinePhase.All);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--glibc-malloc")
            {
                o = o with { GlibcMalloc = true };
                continue;
            }

            var value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value. Usage: {Usage}");
            int Int(int min, int max) => int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
                ? v : throw new ArgumentException($"{args[i]} must be a whole number from {min} to {max}, not '{value}'.");
            o = args[i] switch
            {
                "--seconds" => o with { Seconds = Int(1, 86_400) },
                "--services" => o with { Services = Int(1, 99_999) },
                "--events-per-window" => o with { EventsPerWindow = Int(1, 100_000) },
                "--storms" => o with { StormsPerWindow = Int(0, 1_000) },
                "--warmup" => o with { WarmupSeconds = Int(0, 3_600) },
                "--budget-mib" => o with
                {
                    BudgetMiBPerPartition = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var mib) && mib > 0 && mib <= 4.5
                        ? mib : throw new ArgumentException($"--budget-mib must be above 0 and at most 4.5 (the mock keeps 5 MiB per partition), not '{value}'."),
                },
                "--lateness" => o with { LatenessSeconds = Int(0, 3_600) },
                "--loops" => o with { Loops = Int(1, 16) },
                "--rate" => o with { Rate = Int(1_000, 10_000_000) },
                "--postgres-cpu-weight" => o with { PostgresCpuWeight = Int(1, 10_000) },
                "--env" => o with
                {
                    DetectorEnvironment = [.. o.DetectorEnvironment, value.IndexOf('=', StringComparison.Ordinal) is > 0 and var at
                        ? (value[..at], value[(at + 1)..]) : throw new ArgumentException($"--env must be NAME=VALUE, not '{value}'.")],
                },
                "--drain-timeout" => o with { DrainTimeoutSeconds = Int(1, 86_400) },
                "--phases" => o with
                {
                    Phases = [.. value.Split(',').Select(n => PipelinePhase.All.FirstOrDefault(p => p.Name == n.Trim())
                        ?? throw new ArgumentException($"Unknown phase '{n}': detect, store or both."))],
                },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'. Usage: {Usage}"),
            };
            i++;
        }

        if (o.WarmupSeconds >= o.Seconds)
        {
            throw new ArgumentException($"--warmup ({o.WarmupSeconds} s) must be shorter than --seconds ({o.Seconds} s).");
        }

        return o;
    }

    /// <summary>The backlog budget in events: MiB per partition over all partitions, at the given bytes per record on the log.</summary>
    public long BudgetEvents(double recordBytes, int partitions = 8) => (long)(BudgetMiBPerPartition * 1024 * 1024 * partitions / recordBytes);
}
