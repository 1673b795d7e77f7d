using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Helios.Core.Alerts;
using Helios.Core.Detection;
using Helios.Core.Events;
using Helios.Core.Features;
using Helios.Core.Windows;
using Helios.ServiceDefaults.Configuration;
using Helios.ServiceDefaults.Data;
using Helios.ServiceDefaults.Kafka;
using Helios.ServiceDefaults.Telemetry;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Helios.Detector.Detection;

/// <summary>
/// One consumer-group member on the events topic: validates (bad events to the dead-letter
/// topic), windows by event time, scores closed windows with the active model, applies the
/// cooldown, stores and publishes alerts and records every closed window. Offsets are committed
/// only below the first event of any window not yet recorded, so a crash loses nothing: the
/// restarted detector re-reads those events, skips windows already recorded and rebuilds the rest whole.
/// A process runs <see cref="DetectionOptions.Loops"/> of them (<paramref name="loop"/> is this one's number), each
/// its own member of the group with its own state, as that many processes would be.
/// </summary>
public sealed class DetectorWorker(
    KafkaClientFactory kafka,
    SchemaInitializer schema,
    ModelRegistry registry,
    AlertStore alerts,
    WindowStore windowStore,
    DetectorMetrics metrics,
    IOptions<KafkaTopicsOptions> topicOptions,
    IOptions<DetectionOptions> detectionOptions,
    ILogger<DetectorWorker> logger,
    int loop) : BackgroundService
{
    /// <summary>
    /// Prefetch (queued.max.messages.kbytes), shared by the process's loops: an eighth of librdkafka's default, about 70 ms
    /// of events at 340,000 a second. A full queue is fetched again after 10 ms (fetch.queue.backoff.ms, librdkafka 2.16;
    /// 2.0.2 waited a second, and 16 MiB then gave 70,100 events/s). `bench -- pipeline`: detection 374,477 events/s at
    /// peak RSS 231.1 MB, both paths 120,561 at 276.3 MB; with 16 MiB 309,951-333,459 at 245.8-249.2 MB and both paths
    /// 105,370-119,594 at 296.5-299.8 MB; with 64 MiB 295,175 at 268.8 MB and both paths 91,545 at 316.4 MB.
    /// </summary>
    private const int PrefetchKbytes = 8 * 1024;
    private const int MaxLinksPerWindow = 32;

    /// <summary>Batches of at least this many windows get their feature rows on every core, in chunks of <see cref="ParallelChunk"/>.</summary>
    private const int ParallelFrom = 1_000;
    private const int ParallelChunk = 512;

    /// <summary>
    /// Batches of window records written behind the loop at most (a slot's 8 partitions, one loop); beyond, the loop
    /// waits for the oldest.
    /// </summary>
    private const int MaxRecordingsInFlight = 8;

    /// <summary>Landed lists of window records kept for later batches: one per batch in flight, and the one being filled.</summary>
    private const int MaxSpareRecordLists = MaxRecordingsInFlight + 1;

    /// <summary>The largest list of window records kept (a partition's share of 10,000 services is about 1,250).</summary>
    private const int MaxSpareRecordCapacity = 4_096;
    private readonly KafkaTopicsOptions _topics = topicOptions.Value;
    private readonly DetectionOptions _options = detectionOptions.Value;
    private readonly Dictionary<string, OpenAlert> _openAlerts = new(StringComparer.Ordinal);
    private readonly Dictionary<(string, DateTimeOffset), List<ActivityContext>> _windowTraces = [];
    private readonly CommitTracker _commits = new();

    /// <summary>The events topic's partitions assigned to this loop (kept by the rebalance handlers).</summary>
    private readonly HashSet<int> _owned = [];
    private readonly EvidenceTracker _evidence = new(detectionOptions.Value.WindowSize);
    private readonly EventFieldsReader _reader = new();

    /// <summary>Batches of window records being written, oldest first (see <see cref="StartRecordingAsync"/>).</summary>
    private readonly Queue<InFlight> _recordings = new();

    // Reused from batch to batch by the loop and ScoreAsync, which is done with them when it returns (the
    // records' lists when their batch has landed): per window, the scoring had allocated about 600 bytes, a garbage
    // collection about every second at 340,000 events/s, and a collection in a batch delays its alerts.
    private readonly List<ClosedWindow> _closed = [];
    private readonly List<(ClosedWindow Window, List<ActivityContext>? Links)> _scorable = [];
    private readonly List<ScoredWindow> _scored = [];
    private readonly List<WindowSurprise> _surprises = [];
    private readonly Stack<List<WindowRecord>> _spareRecords = new();
    private readonly Decisions _decisions = new();
    private Evidence[] _evidenceOf = [];
    private double[] _scoreOf = [];
    private readonly long _sizeTicks = detectionOptions.Value.WindowSize.Ticks;

    /// <summary>
    /// Per service, which of its windows are closed and where its events go (see <see cref="ServiceState"/>). The usual
    /// event finds its service's state through the reader's interned name, without a lookup here.
    /// </summary>
    private readonly Dictionary<string, ServiceState> _services = new(StringComparer.Ordinal);
    private EventTimeWindows? _windows;
    private (long Version, AnomalyModel Model)? _model;

    private volatile bool _consuming;
    private long _processedNotCounted;
    private Exception? _handlerFailure;
    private bool _rebalanced;
    private long _lag;

    /// <summary>The loaded model version (0 before the first load).</summary>
    public long ModelVersion => _model?.Version ?? 0;

    /// <summary>Ready once a model is loaded and the consumer has subscribed.</summary>
    public HealthCheckResult Health() =>
        _consuming && _model is { } m
            ? HealthCheckResult.Healthy($"loop {loop} consuming {_topics.EventsTopic} with events model v{m.Version}")
            : HealthCheckResult.Unhealthy(_model is null ? $"loop {loop}: no model loaded yet" : $"loop {loop}: consumer not subscribed yet");

    /// <summary>Windows open in this loop (0 before it starts).</summary>
    public int OpenWindows => _windows?.OpenWindows ?? 0;

    /// <summary>Events waiting on this loop's partitions, as of its last look.</summary>
    public long Lag => Interlocked.Read(ref _lag);

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => RunAsync(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    private async Task RunAsync(CancellationToken ct)
    {
        await schema.Ready.WaitAsync(ct);
        await registry.EnsureBootstrapEventModelAsync(_options.WindowSize, _options.MinEventsPerWindow, _options.Contamination, ct);
        await RefreshModelAsync(ct);

        // Training the bootstrap model on a fresh database allocates a few hundred MB once: give it back to the
        // system before serving, rather than carry it as resident memory for the life of the process.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

        _windows = new EventTimeWindows(_options.WindowSize, _options.AllowedLateness, _options.IdleTimeout);
        // Alerts are few and wanted at once: no lingering for a fuller batch.
        using var producer = kafka.CreateProducer("helios-detector", c => c.LingerMs = 0);
        // Dead letters keep the original key's bytes (the consumer does not decode keys); same client, other serializers.
        using var deadLetters = new DependentProducerBuilder<byte[], byte[]>(producer.Handle).Build();
        WarmUp(producer);
        WarmUpAlertPath();
        // Messages are read in place through RawConsumer (below), not through Consume: what Consume would marshal does not matter.
        using var consumer = kafka.CreateConsumer<byte[]>(_topics.DetectorGroup, $"helios-detector-{Environment.ProcessId}-{loop}",
            c => c.QueuedMaxMessagesKbytes = PrefetchKbytes / _options.Loops,
            b => b.SetPartitionsAssignedHandler((_, assigned) => Guard(() =>
                    {
                        FinishRecording();
                        ForgetServiceState();
                        assigned.ForEach(p => _windows.AddSource(p.Partition.Value));
                        assigned.ForEach(p => _owned.Add(p.Partition.Value));
                    }))
                  .SetPartitionsRevokedHandler((c, revoked) => Guard(() =>
                    {
                        // Windows whose records are in flight still hold their offsets: let them land first, so the
                        // partition's next owner starts after them (as it did when every record was awaited at once).
                        FinishRecording();
                        CommitSafeOffsets(c, revoked.Select(p => p.TopicPartition));
                        revoked.ForEach(p => Release(p.Partition.Value));
                    }))
                  .SetPartitionsLostHandler((_, lost) => Guard(() =>
                    {
                        FinishRecording();
                        lost.ForEach(p => Release(p.Partition.Value));
                    })));
        consumer.Subscribe(_topics.EventsTopic);
        using var raw = RawConsumer.For(consumer); // declared after the consumer: on a failure too, its queue reference goes first
        var batch = new IntPtr[RawConsumer.Batch];
        _consuming = true;
        logger.LogInformation("Detector loop {Loop} consuming {Topic} as group {Group}, windows of {Window}", loop, _topics.EventsTopic, _topics.DetectorGroup, _options.WindowSize);

        var refreshEvery = TimeSpan.FromSeconds(_options.ModelRefreshSeconds);
        // The wall clock serves the windows and both timers. It is read when the coarse monotonic tick moves (every 1 to
        // 4 ms) or the topic is idle, not per message: a reading costs about 45 ns here, the tick about 11.
        var now = DateTime.UtcNow.Ticks;
        var lastTick = Environment.TickCount64;
        var lastRefresh = now;
        var lastCommit = now;
        var uncommitted = false;
        while (!ct.IsCancellationRequested)
        {
            var count = Poll(raw, batch);
            if (_rebalanced)
            {
                // What Confluent's Consume does with an exception from a rebalance handler (ours, or its own assign
                // around them): rethrow it from the loop, the messages taken given back first. Records the handlers
                // waited for released offsets to commit.
                _rebalanced = false;
                uncommitted = true;
                if ((_handlerFailure ?? raw.TakeCallbackException()) is { } failure)
                {
                    raw.Destroy(batch.AsSpan(0, count));
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
                }
            }

            // Each message is taken in turn, and after each one (or none, when the topic is idle) the windows closed by it are
            // scored and the timers checked, as when messages were polled one at a time.
            var next = 0;
            try
            {
                do
                {
                    var tick = Environment.TickCount64;
                    if (tick != lastTick || count == 0)
                    {
                        now = DateTime.UtcNow.Ticks;
                        lastTick = tick;
                        FlushProcessedCount();
                    }

                    if (next < count)
                    {
                        if (HandlePolled(raw, batch[next++], now, out var slow))
                        {
                            uncommitted = true;
                            if (slow is not null)
                            {
                                await HandleAsync(slow, now, deadLetters, ct);
                            }
                        }
                    }

                    if (_recordings.TryPeek(out var oldest) && oldest.Stored.IsCompleted)
                    {
                        // Records landed: their windows let go of their offsets.
                        await FinishLandedRecordingsAsync();
                        uncommitted = true;
                    }

                    var closed = _closed;
                    closed.Clear();
                    if (_windows.DrainClosed(closed, new DateTimeOffset(now, TimeSpan.Zero)) > 0)
                    {
                        await ScoreAsync(closed, producer, ct);
                        _windows.Recycle(closed);
                    }

                    // Recorded windows let go of their offsets, also when an idle flush closed them without new events.
                    uncommitted |= closed.Count > 0;

                    if (now - lastRefresh >= refreshEvery.Ticks)
                    {
                        await RefreshModelAsync(ct);
                        Interlocked.Exchange(ref _lag, LagOf(consumer));
                        lastRefresh = now;
                    }

                    if (uncommitted && (closed.Count > 0 || now - lastCommit > TimeSpan.TicksPerSecond))
                    {
                        CommitSafeOffsets(consumer, consumer.Assignment);
                        uncommitted = false;
                        lastCommit = now;
                    }
                }
                while (next < count && !ct.IsCancellationRequested);
            }
            finally
            {
                // Only when the loop is failing or stopping: what it did not get to goes back to librdkafka (uncommitted).
                raw.Destroy(batch.AsSpan(next, count - next));
            }
        }

        await FinishRecordingAsync();
        FlushProcessedCount();
        CommitSafeOffsets(consumer, consumer.Assignment);
        raw.Dispose(); // librdkafka: the group queue's reference goes before the consumer closes
        consumer.Close();
    }

    /// <summary>Adds the events processed since the last call to their counter (once per clock tick, not per event: the counter's update was about 2 % of the loop).</summary>
    private void FlushProcessedCount()
    {
        if (_processedNotCounted > 0)
        {
            metrics.EventsProcessed.Add(_processedNotCounted);
            _processedNotCounted = 0;
        }
    }

    /// <summary>
    /// Learns the alerts topic's metadata (and so its partition leaders) now, not when the first alert is
    /// published: otherwise the first alert of a process waits about a second for it.
    /// </summary>
    private void WarmUp(IProducer<string, byte[]> producer)
    {
        try
        {
            using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
            admin.GetMetadata(_topics.AlertsTopic, TimeSpan.FromSeconds(5));
        }
        catch (KafkaException ex)
        {
            logger.LogWarning("Alerts topic metadata not available yet: {Reason}", ex.Error.Reason);
        }
    }

    /// <summary>
    /// Builds and serializes one alert (neither stored nor published) from the loaded model, so the process's first real
    /// alert does not pay for the serializer's metadata and the first compilation of the path (about 100 ms measured).
    /// </summary>
    private void WarmUpAlertPath()
    {
        if (_model is not { } active)
        {
            return;
        }

        try
        {
            var features = new double[active.Model.Schema.Count];
            var now = NowToTheMicrosecond();
            var assessment = Assess(active.Model, features);
            var alert = AlertFactory.ForEvidence("warm-up", now, now + _options.WindowSize, features, assessment, new Evidence(_options.SurpriseThreshold, 1, 0),
                _options.SurpriseThreshold, active.Version, now);
            _ = JsonSerializer.SerializeToUtf8Bytes(alert with { ClosedAt = now });
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            // Only a warm-up: the real path reports its own errors.
            logger.LogDebug(ex, "Alert path warm-up skipped");
        }
    }

    /// <summary>Sum over assigned partitions of high watermark minus position, from the client's cached watermarks (no broker round trip).</summary>
    private static long LagOf(IConsumer<byte[], byte[]> consumer)
    {
        long lag = 0;
        foreach (var partition in consumer.Assignment)
        {
            var high = consumer.GetWatermarkOffsets(partition).High;
            var position = consumer.Position(partition);
            if (high != Offset.Unset && position != Offset.Unset)
            {
                lag += Math.Max(0, high.Value - position.Value);
            }
        }

        return lag;
    }

    /// <summary>Commits, per partition, up to the first event a window not yet recorded still needs.</summary>
    private void CommitSafeOffsets(IConsumer<byte[], byte[]> consumer, IEnumerable<TopicPartition> partitions)
    {
        var offsets = partitions
            .Select(p => (p, Offset: _commits.CommitOffset(p.Partition.Value)))
            .Where(x => x.Offset is not null)
            .Select(x => new TopicPartitionOffset(x.p, new Offset(x.Offset!.Value)))
            .ToList();
        if (offsets.Count == 0)
        {
            return;
        }

        try
        {
            consumer.Commit(offsets);
        }
        catch (KafkaException ex)
        {
            logger.LogDebug("Commit skipped: {Reason}", ex.Error.Reason);
        }
    }

    /// <summary>A partition is no longer ours: its open windows go (the next owner rebuilds them) and so does what we knew of its services.</summary>
    private void Release(int partition)
    {
        _owned.Remove(partition);
        _windows?.RemoveSource(partition);
        _commits.Forget(partition);
        ForgetServiceState();
    }

    /// <summary>Another member may have moved a service on; what is cached about services is reloaded from the store.</summary>
    private void ForgetServiceState()
    {
        foreach (var state in _services.Values)
        {
            state.Closed = Closed.Unknown;
        }

        _openAlerts.Clear();
        _evidence.Clear();
    }

    /// <summary>
    /// Start (ticks) of the service's newest recorded window, loaded once per assignment with the surprises of
    /// its last two windows (the evidence's history) and its newest alert (the cooldown's).
    /// </summary>
    private async Task<long> LoadServiceAsync(string service, CancellationToken ct)
    {
        await FinishRecordingAsync();
        var history = await windowStore.HistoryAsync(service, ct);
        var state = StateOf(service);
        var ticks = Math.Max(history.LastClosed?.UtcTicks ?? long.MinValue, state.Closed.Through);
        state.Closed = new Closed(ticks, state.Closed.Here, Loaded: true);
        foreach (var (start, surprise) in history.Recent)
        {
            _evidence.Remember(service, start.UtcTicks, surprise);
        }

        if (await alerts.LatestAsync(service, ct) is { } latest)
        {
            _openAlerts[service] = latest;
        }

        return ticks;
    }

    /// <summary>
    /// The messages already waiting, up to a batch, or when none is, the first to arrive within 100 ms
    /// (<see cref="RawConsumer.PollWaitingOrNext"/>). Returns how many are in <paramref name="batch"/>.
    /// </summary>
    private int Poll(RawConsumer raw, IntPtr[] batch)
    {
        var count = raw.PollWaitingOrNext(batch, 100);
        // A rebalance ran inside the call, perhaps after some of these were taken: librdkafka drops those of a partition
        // taken away (a barrier op), and this makes sure of it. Their offsets were not committed: the next owner reads them.
        return _rebalanced ? KeepOwned(raw, batch, count) : count;
    }

    /// <summary>
    /// One polled message, handled in librdkafka's own buffer when it is the usual case: the fast reader takes it, its
    /// service's history is loaded, and it is neither late nor a replay. Anything else is copied into
    /// <paramref name="slow"/> for <see cref="HandleAsync"/>, which may wait on the store or the dead-letter topic. Then
    /// it goes back to librdkafka. False for a consumer error, which is logged (no offset then awaits a commit).
    /// </summary>
    private unsafe bool HandlePolled(RawConsumer raw, IntPtr polled, long now, out ConsumeResult<byte[], byte[]>? slow)
    {
        slow = null;
        var message = (RawMessage*)polled;
        try
        {
            if (message->Error != 0)
            {
                logger.LogWarning("Consume failed: {Reason}", raw.ErrorText(message->Error));
                return false;
            }

            if (!TryHandleInPlace(raw, message, now))
            {
                slow = raw.Copy(message, _topics.EventsTopic);
            }

            return true;
        }
        finally
        {
            raw.Destroy(message);
        }
    }

    /// <summary>Drops the messages of partitions this loop no longer owns (an error event has none and stays); returns how many are left, in order.</summary>
    private unsafe int KeepOwned(RawConsumer raw, IntPtr[] batch, int count)
    {
        var kept = 0;
        for (var i = 0; i < count; i++)
        {
            var message = (RawMessage*)batch[i];
            if (message->Error == 0 && !_owned.Contains(message->Partition))
            {
                raw.Destroy(message);
            }
            else
            {
                batch[kept++] = batch[i];
            }
        }

        return kept;
    }

    private unsafe bool TryHandleInPlace(RawConsumer raw, RawMessage* message, long nowTicks)
    {
        if (!_reader.TryRead(message->Value, out var evt, out var name))
        {
            return false;
        }

        var state = name.State as ServiceState ?? (ServiceState)(name.State = StateOf(name.Value));
        var windowStart = evt.TimestampTicks - (evt.TimestampTicks % _sizeTicks);
        var closed = state.Closed;
        if (!closed.Loaded || windowStart <= closed.Here || windowStart <= closed.Through)
        {
            return false;
        }

        var parent = raw.TryGetTraceHeaders(message, out var traceParent, out var traceState) ? KafkaTracing.Parse(traceParent, traceState) : null;
        using var activity = parent is null ? null
            : KafkaTracing.StartProcess(_topics.EventsTopic, message->Partition, message->Offset, parent,
                message->Key is null ? null : Encoding.UTF8.GetString(message->Key, checked((int)message->KeyLength)));
        _processedNotCounted++;
        Accept(evt, state, windowStart, message->Partition, message->Offset, parent, activity, nowTicks);
        return true;
    }

    /// <summary>Keeps an exception from a rebalance handler for the loop to rethrow (librdkafka calls the handlers inside the poll).</summary>
    private void Guard(Action handler)
    {
        _rebalanced = true;
        try
        {
            handler();
        }
        catch (Exception ex)
        {
            _handlerFailure ??= ex;
        }
    }

    private async Task HandleAsync(ConsumeResult<byte[], byte[]> message, long nowTicks, IProducer<byte[], byte[]> deadLetters, CancellationToken ct)
    {
        var parent = KafkaTracing.Extract(message.Message.Headers);
        using var activity = parent is null ? null : KafkaTracing.StartProcess(_topics.EventsTopic, message);
        var partition = message.Partition.Value;
        if (!_reader.TryRead(message.Message.Value, out var evt))
        {
            // Not the plain form the fast reader is sure of: the parser decides, and names the field when it rejects.
            if (!EventParser.TryParse(message.Message.Value, out var parsed, out var error))
            {
                await DeadLetterAsync(message, error!, deadLetters, ct);
                _commits.Consumed(partition, message.Offset.Value);
                return;
            }

            evt = EventFields.From(parsed!);
        }

        _processedNotCounted++;
        var windowStart = evt.TimestampTicks - (evt.TimestampTicks % _sizeTicks);
        var state = StateOf(evt.Service);
        var closed = state.Closed;
        if (windowStart <= closed.Here)
        {
            // This process closed that window itself: the event is late. It is stored by the storage
            // writer like any other and counted on its window's record.
            metrics.LateEvents.Add(1);
            await FinishRecordingAsync();
            await windowStore.CountLateAsync(evt.Service, new DateTimeOffset(windowStart, TimeSpan.Zero), ct);
            _commits.Consumed(partition, message.Offset.Value);
            return;
        }

        var closedThrough = closed.Loaded ? closed.Through : await LoadServiceAsync(evt.Service, ct);
        if (windowStart <= closedThrough)
        {
            // Re-read after a restart: this window is recorded already, scoring it again from part of its events would be wrong.
            metrics.ReplayedEvents.Add(1);
            _commits.Consumed(partition, message.Offset.Value);
            return;
        }

        Accept(evt, state, windowStart, partition, message.Offset.Value, parent, activity, nowTicks);
    }

    private ServiceState StateOf(string service)
    {
        ref var state = ref CollectionsMarshal.GetValueRefOrAddDefault(_services, service, out _);
        return state ??= new ServiceState();
    }

    /// <summary>An event of a window still open here: added to it, its offset held or released, its trace linked.</summary>
    private void Accept(in EventFields evt, ServiceState state, long windowStart, int partition, long offset, ActivityContext? parent, Activity? activity, long nowTicks)
    {
        if (!_windows!.Add(evt, partition, nowTicks, ref state.Hint, out var firstFromPartition))
        {
            metrics.LateEvents.Add(1);
            _commits.Consumed(partition, offset);
            return;
        }

        if (firstFromPartition)
        {
            // A partition is read in offset order: the window's first event from it holds the lowest offset.
            _commits.Hold(evt.Service, windowStart, partition, offset);
        }
        else
        {
            _commits.Consumed(partition, offset);
        }

        if (parent is { } context)
        {
            var key = (evt.Service, new DateTimeOffset(windowStart, TimeSpan.Zero));
            if (!_windowTraces.TryGetValue(key, out var links))
            {
                _windowTraces[key] = links = [];
            }

            if (links.Count < MaxLinksPerWindow && !links.Contains(context))
            {
                links.Add(activity?.Context ?? context);
            }
        }
    }

    private async Task DeadLetterAsync(ConsumeResult<byte[], byte[]> message, EventError error, IProducer<byte[], byte[]> deadLetters, CancellationToken ct)
    {
        var headers = new Headers
        {
            { "dlq.reason", Encoding.UTF8.GetBytes(error.Reason) },
            { "dlq.field", Encoding.UTF8.GetBytes(error.Field) },
            { "dlq.source.topic", Encoding.UTF8.GetBytes(_topics.EventsTopic) },
            { "dlq.source.partition", Encoding.UTF8.GetBytes(message.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
            { "dlq.source.offset", Encoding.UTF8.GetBytes(message.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)) },
        };
        await deadLetters.ProduceAsync(_topics.DeadLetterTopic, new Message<byte[], byte[]> { Key = message.Message.Key, Value = message.Message.Value, Headers = headers }, ct);
        metrics.DeadLettered.Add(1);
        logger.LogWarning("Dead-lettered event at {Partition}@{Offset}: {Field}: {Reason}", message.Partition.Value, message.Offset.Value, error.Field, error.Reason);
    }

    /// <summary>
    /// Scores a batch of closed windows and decides which alert: with <see cref="AlertRule.Evidence"/>, a window of a
    /// service the model has a baseline for alerts when its corroborated surprise (its own, its last two windows', and
    /// the other services' windows of the same slot, see <see cref="EvidenceTracker"/>) reaches the threshold; a
    /// service the model never saw has no baseline to be surprised against and falls back to the forest's decision.
    /// Evidence needs no forest score, so those alerts are stored and published first; then one block pass of the
    /// forest scores the whole batch (every record keeps its score) and the other windows decide. Alerts are stored and
    /// published at once, and the windows recorded once both are done (all in batches, behind the loop, which waits for
    /// neither): a crash in between replays the windows, which upserts and republishes the same alert ids (consumers
    /// de-duplicate by id). What no decision needs comes after the alerts: the evidence of a batch the forest decides
    /// alone, the windows' metrics, and a wait for PostgreSQL when it is <see cref="MaxRecordingsInFlight"/> batches behind
    /// (an earlier batch's failed write surfaces there, after this batch's alerts: the loop fails as after a crash between
    /// publish and record, and the restart replays the windows of both).
    /// </summary>
    private async Task ScoreAsync(IReadOnlyList<ClosedWindow> closed, IProducer<string, byte[]> producer, CancellationToken ct)
    {
        // The windows closed now (the loop drained them just before): what waits below counts in their latency.
        var closedAt = NowToTheMicrosecond();
        var started = Stopwatch.GetTimestamp();
        var records = _spareRecords.TryPop(out var spare) ? spare : new List<WindowRecord>(closed.Count);
        records.EnsureCapacity(closed.Count); // a smaller spare grows once, not by doubling
        var scored = _scored;
        scored.Clear();
        if (_model is not { } active)
        {
            foreach (var w in closed)
            {
                _windowTraces.Remove((w.Service, w.Start));
                records.Add(new WindowRecord(w.Service, w.Start, w.End, w.Events.Count, Scored: false));
            }

            await StartRecordingAsync(records, [], Task.CompletedTask);
            return;
        }

        var model = active.Model;
        var scorable = _scorable;
        scorable.Clear();
        foreach (var window in closed)
        {
            _windowTraces.Remove((window.Service, window.Start), out var links);
            if (window.Events.Count < _options.MinEventsPerWindow)
            {
                records.Add(new WindowRecord(window.Service, window.Start, window.End, window.Events.Count, Scored: false));
                continue;
            }

            scorable.Add((window, links));
        }

        var rows = Features(scorable, model);
        for (var i = 0; i < scorable.Count; i++)
        {
            var (window, links) = scorable[i];
            var byEvidence = _options.AlertRule == AlertRule.Evidence && (model.ServiceBaselines?.Contains(window.Service) ?? false);
            scored.Add(new ScoredWindow(window, rows[i], SurpriseGuard.Score(rows[i]), byEvidence, links, active.Version));
        }

        // The evidence decides the windows of services with a baseline; the forest's windows only record it, so a batch
        // without the former evaluates it after its alerts are out.
        var evidence = Cleared(ref _evidenceOf, scored.Count);
        var anyByEvidence = scored.Exists(w => w.ByEvidence);
        if (anyByEvidence)
        {
            EvaluateEvidence(scored, evidence);
        }

        var decisions = _decisions;
        decisions.Start(scored.Count, closedAt);
        Task published;
        try
        {
            if (anyByEvidence)
            {
                for (var i = 0; i < scored.Count; i++)
                {
                    if (scored[i].ByEvidence)
                    {
                        var anomalous = evidence[i].Value >= _options.SurpriseThreshold;
                        Decide(decisions, i, scored[i], evidence[i], anomalous, anomalous ? Assess(model, scored[i].Features) : null);
                    }
                }

                PublishRaised(decisions, producer, ct);
            }

            // One pass of the forest over the whole batch (block scoring); the full assessment (attribution,
            // explanation) is only computed for windows that alert.
            // The matrix is pooled: a batch's (1,250 windows x 12 features) is a large object, and one per batch
            // would pile up in the large object heap between full collections.
            var width = model.Schema.Count;
            var matrix = ArrayPool<double>.Shared.Rent(scored.Count * width);
            var scores = Cleared(ref _scoreOf, scored.Count);
            try
            {
                for (var i = 0; i < scored.Count; i++)
                {
                    scored[i].Features.CopyTo(matrix, i * width);
                }

                // All cores: ScoreSamples itself keeps a batch of one chunk or less on this thread.
                model.Forest.ScoreSamples(matrix.AsSpan(0, scored.Count * width), scores.AsSpan(0, scored.Count), maxDegreeOfParallelism: 0);
            }
            finally
            {
                ArrayPool<double>.Shared.Return(matrix);
            }

            for (var i = 0; i < scored.Count; i++)
            {
                if (!scored[i].ByEvidence)
                {
                    var forestFlag = _options.AnomalyThreshold is { } threshold ? scores[i] < threshold : scores[i] - model.Threshold < 0;
                    // The extreme-feature guard needs the z-scores: then every window is assessed.
                    var assessment = forestFlag || model.Manifest.ExtremeRobustZ is not null ? Assess(model, scored[i].Features) : null;
                    Decide(decisions, i, scored[i], evidence[i], assessment?.IsAnomaly ?? false, assessment);
                }
            }

            PublishRaised(decisions, producer, ct);
            if (!anyByEvidence)
            {
                EvaluateEvidence(scored, evidence);
            }

            // What the decisions did not need waited for the alerts: the windows' figures and their spans' evidence.
            metrics.WindowsScored.Add(scored.Count);
            for (var i = 0; i < scored.Count; i++)
            {
                metrics.WindowSize.Record(scored[i].Window.Events.Count);
                decisions.Spans[i]?.SetTag("helios.evidence", evidence[i].Value);
            }

            for (var i = 0; i < scored.Count; i++)
            {
                var (window, features, surprise, _, _, version) = scored[i];
                var (anomalous, alertId) = decisions.Outcomes[i];
                records.Add(new WindowRecord(window.Service, window.Start, window.End, window.Events.Count, Scored: true, features, scores[i],
                    scores[i] - model.Threshold, anomalous, alertId, version, surprise, evidence[i].Value));
            }

            published = Task.WhenAll(decisions.Publishing);
            if (scored.Count > 0)
            {
                // Closed to scored and its alerts stored and on the topic.
                _ = published.ContinueWith(_ => metrics.Latency.Record(Stopwatch.GetElapsedTime(started).TotalSeconds),
                    CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        finally
        {
            // The windows' spans end with their scoring, before any wait for PostgreSQL below.
            decisions.EndSpans();
            _scorable.Clear(); // nothing of the batch (links, features) kept alive until the next one
            _scored.Clear();
        }

        // The set is reused by the next batch; a batch that suppressed nothing (the usual one) passes none.
        await StartRecordingAsync(records, decisions.SuppressedBy.Count == 0 ? [] : [.. decisions.SuppressedBy], published);
    }

    /// <summary>The first <paramref name="count"/> elements of <paramref name="buffer"/> cleared, grown to hold them if it was smaller.</summary>
    private static T[] Cleared<T>(ref T[] buffer, int count)
    {
        if (buffer.Length < count)
        {
            buffer = new T[count];
        }
        else
        {
            Array.Clear(buffer, 0, count);
        }

        return buffer;
    }

    /// <summary>The batch's corroborated evidence (<see cref="EvidenceTracker"/>), in the order of <paramref name="scored"/>.</summary>
    private void EvaluateEvidence(List<ScoredWindow> scored, Evidence[] evidence)
    {
        _surprises.Clear();
        foreach (var w in scored)
        {
            _surprises.Add(new WindowSurprise(w.Window.Service, w.Window.Start.UtcTicks, w.Surprise));
        }

        _evidence.Evaluate(_surprises, evidence.AsSpan(0, scored.Count));
    }

    /// <summary>
    /// Each window's feature row. A slot's windows close together (10,000 services, 10,000 windows) while the loop
    /// waits: a large batch is computed on every core, in chunks, since the rows are independent.
    /// </summary>
    private static double[][] Features(List<(ClosedWindow Window, List<ActivityContext>? Links)> windows, AnomalyModel model)
    {
        var rows = new double[windows.Count][];
        void Fill(int from, int to)
        {
            for (var i = from; i < to; i++)
            {
                rows[i] = EventWindowFeatures.For(windows[i].Window, model.ServiceBaselines);
            }
        }

        if (rows.Length < ParallelFrom || Environment.ProcessorCount == 1)
        {
            Fill(0, rows.Length);
        }
        else
        {
            Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(0, rows.Length, ParallelChunk), range => Fill(range.Item1, range.Item2));
        }

        return rows;
    }

    /// <summary>
    /// One window's decision: its span (traced or anomalous), and for an anomalous one an alert raised or suppressed by the
    /// cooldown. <paramref name="evidence"/> is only read for a window the evidence decides (the others' may not be
    /// evaluated yet); the window's figures and its span's evidence are added after the batch's alerts are out.
    /// </summary>
    private void Decide(Decisions decisions, int index, in ScoredWindow scored, Evidence evidence, bool anomalous, Assessment? assessment)
    {
        var (window, features, _, byEvidence, links, version) = scored;

        // A span for every window fed by traced requests (linked to them) and for every anomalous one;
        // a root span per untraced normal window would only be noise (10,000 services, 10,000 spans a window).
        var activity = links is { Count: > 0 } || anomalous ? StartWindowActivity(window, links) : null;
        decisions.Spans[index] = activity;
        activity?.SetTag("helios.anomaly", anomalous);
        Guid? alertId = null;
        if (anomalous)
        {
            var alert = (byEvidence
                ? AlertFactory.ForEvidence(window.Service, window.Start, window.End, features, assessment!, evidence, _options.SurpriseThreshold, version, NowToTheMicrosecond())
                : AlertFactory.ForEventWindow(window.Service, window.Start, window.End, features, assessment!, version, NowToTheMicrosecond())) with { ClosedAt = decisions.ClosedAt };
            var severity = SeverityPolicy.TryParse(alert.Severity, out var s) ? s : Severity.Low;
            metrics.AnomaliesDetected.Add(1, new KeyValuePair<string, object?>("severity", alert.Severity));
            _openAlerts.TryGetValue(window.Service, out var open);
            if (AlertCooldown.Decide(open, window.Start, severity, _options.AlertCooldown) == AlertDecision.Suppress)
            {
                alertId = open!.Id;
                decisions.SuppressedBy.Add(open.Id);
                activity?.SetTag("helios.alert.suppressed_by", open.Id.ToString());
            }
            else
            {
                decisions.Raised.Add((alert, activity));
                _openAlerts[window.Service] = new OpenAlert(alert.Id, window.Start, severity);
                alertId = alert.Id;
                activity?.SetTag("helios.alert.id", alert.Id.ToString());
            }
        }

        decisions.Outcomes[index] = (anomalous, alertId);
    }

    /// <summary>
    /// Starts storing and publishing the alerts raised since the last call, without waiting for either: the topic does
    /// not wait for PostgreSQL (under a storage load its upsert is the slow part), nor the forest's pass for the
    /// evidence's alerts; the batch's windows are recorded only once both are done, so a crash in between replays them.
    /// </summary>
    private void PublishRaised(Decisions decisions, IProducer<string, byte[]> producer, CancellationToken ct)
    {
        if (decisions.Raised.Count == 0)
        {
            return;
        }

        // On the topic first, then the upsert and the log lines: their synchronous parts wait behind the produce calls.
        decisions.Publishing.AddRange(decisions.Raised.Select(r => PublishAsync(r.Alert, r.Activity, producer, ct)));
        decisions.Publishing.Add(alerts.UpsertAsync([.. decisions.Raised.Select(r => r.Alert)], ct));
        foreach (var (alert, _) in decisions.Raised)
        {
            logger.LogInformation("Alert {Id} {Severity} for {Service} window {Start:O} ({Rule}): {Explanation}",
                alert.Id, alert.Severity, alert.Service, alert.WindowStart, alert.DetectedBy, alert.Explanation);
        }

        decisions.Raised.Clear();
    }

    /// <summary>
    /// What a batch decided so far: per window whether it is anomalous, its alert and its span; alerts not yet published.
    /// One instance serves batch after batch (<see cref="Start"/>).
    /// </summary>
    private sealed class Decisions
    {
        private (bool Anomalous, Guid? AlertId)[] _outcomes = [];
        private Activity?[] _spans = [];
        private int _count;

        public DateTimeOffset ClosedAt { get; private set; }

        /// <summary>Per window of the batch: its first elements, as many as <see cref="Start"/> was given; longer arrays are reused.</summary>
        public (bool Anomalous, Guid? AlertId)[] Outcomes => _outcomes;

        public List<(AnomalyAlert Alert, Activity? Activity)> Raised { get; } = [];

        /// <summary>The raised alerts' upserts and publications under way.</summary>
        public List<Task> Publishing { get; } = [];

        public HashSet<Guid> SuppressedBy { get; } = [];

        /// <summary>Per window, its span (or none), ended once the batch is done (<see cref="EndSpans"/>).</summary>
        public Activity?[] Spans => _spans;

        /// <summary>Starts a batch of <paramref name="count"/> windows closed at <paramref name="closedAt"/>.</summary>
        public void Start(int count, DateTimeOffset closedAt)
        {
            ClosedAt = closedAt;
            _count = count;
            Cleared(ref _outcomes, count);
            Cleared(ref _spans, count);
            Raised.Clear();
            Publishing.Clear();
            SuppressedBy.Clear();
        }

        /// <summary>Ends the batch's spans.</summary>
        public void EndSpans()
        {
            for (var i = 0; i < _count; i++)
            {
                _spans[i]?.Dispose();
                _spans[i] = null;
            }
        }
    }

    /// <summary>Wall-clock time at PostgreSQL's precision, so the published alert and the stored one carry the same instants.</summary>
    private static DateTimeOffset NowToTheMicrosecond()
    {
        var now = DateTimeOffset.UtcNow;
        return now.AddTicks(-(now.Ticks % 10));
    }

    /// <summary>
    /// A service's closed windows: <paramref name="Through"/>, the start of its newest recorded window (an event for
    /// it or an earlier one was read before: a replay); <paramref name="Here"/>, the newest this process closed itself
    /// (an event for it or an earlier one is late); <paramref name="Loaded"/>, whether its history and newest alert
    /// were loaded from the store since the last assignment.
    /// </summary>
    private readonly record struct Closed(long Through, long Here, bool Loaded)
    {
        public static readonly Closed Unknown = new(long.MinValue, long.MinValue, false);
    }

    /// <summary>What the loop keeps per service: its <see cref="Closed"/> windows, and where its last event went (<see cref="OpenWindowHint"/>).</summary>
    private sealed class ServiceState
    {
        public Closed Closed = Closed.Unknown;

        public OpenWindowHint Hint;
    }

    /// <summary>A closed window with its features; <paramref name="ByEvidence"/>: decided by the evidence rule (its service has a baseline).</summary>
    private readonly record struct ScoredWindow(ClosedWindow Window, double[] Features, double Surprise, bool ByEvidence, List<ActivityContext>? Links, long Version);

    /// <summary>The model's full assessment, with the configured override of the forest's threshold.</summary>
    private Assessment Assess(AnomalyModel model, double[] features)
    {
        var assessment = model.Assess(features);
        return _options.AnomalyThreshold is { } threshold ? assessment with { IsAnomaly = assessment.Score < threshold } : assessment;
    }

    /// <summary>The window's span: a child of the first request that fed it, linked to the others; not made current (a batch has many).</summary>
    private static Activity? StartWindowActivity(ClosedWindow window, List<ActivityContext>? links)
    {
        var previous = Activity.Current;
        var parent = links is { Count: > 0 } ? links[0] : default;
        var activity = HeliosTelemetry.Source.StartActivity("window score", ActivityKind.Internal, parent, links: links?.Skip(1).Select(l => new ActivityLink(l)));
        Activity.Current = previous;
        activity?.SetTag("helios.service", window.Service);
        activity?.SetTag("helios.window.start", window.Start.ToString("O"));
        activity?.SetTag("helios.window.events", window.Events.Count);
        return activity;
    }

    /// <summary>
    /// Waits for the oldest batches while <see cref="MaxRecordingsInFlight"/> are in flight, then starts writing a batch's
    /// window records (and the suppressed counts of its alerts) once its alerts are stored and published
    /// (<paramref name="alertsDone"/>) and the batch before it has landed, without waiting for that write (PostgreSQL
    /// under a storage load, the broker): the loop goes on consuming meanwhile (waiting for the write had been two thirds
    /// of a batch's time and 29 % of the detection loop's). Until the write lands and <see cref="FinishRecordingAsync"/>
    /// applies it, the windows keep holding their offsets, so nothing is committed past them; what would read the records
    /// first waits for them (a late event's count, a service's history, a rebalance, the end).
    /// </summary>
    private async Task StartRecordingAsync(List<WindowRecord> records, IReadOnlyCollection<Guid> suppressedBy, Task alertsDone)
    {
        while (_recordings.Count >= MaxRecordingsInFlight)
        {
            // PostgreSQL is behind: the loop waits for it rather than hold more records (and offsets). Only now, with
            // the batch's alerts on their way: a slow PostgreSQL holds the next events back, not these alerts.
            await FinishOldestRecordingAsync();
        }

        foreach (var record in records)
        {
            // Closed here from now on: an event for it is late, counted on its record once the record has landed.
            var ticks = record.Start.UtcTicks;
            var state = StateOf(record.Service);
            state.Closed = state.Closed with { Here = Math.Max(state.Closed.Here, ticks) };
        }

        // Started on the thread pool: encoding a slot's 10,000 records for COPY would otherwise run on the loop's thread
        // until the first write that has to wait. Each batch is written once the one before it has landed, so the
        // records (and the suppressed counts recounted from them) land in the order the windows closed.
        var previous = _recordings.Count > 0 ? _recordings.Last().Stored : Task.CompletedTask;
        _recordings.Enqueue(new InFlight(Task.Run(WriteAsync), records));

        // Not cancelled by shutdown: the loop's end waits for it, so the last batch lands and its offsets are committed
        // before the consumer leaves the group (a write cut short would only be replayed after the restart).
        async Task<int> WriteAsync()
        {
            await previous;
            await alertsDone;
            var stored = await windowStore.TryStoreAsync(records, CancellationToken.None);
            if (suppressedBy.Count > 0)
            {
                await alerts.RecountSuppressedAsync(suppressedBy, CancellationToken.None);
            }

            return stored;
        }
    }

    /// <summary>Waits for every batch of records in flight and applies them, oldest first: their windows release their offsets and count as recorded.</summary>
    private async Task FinishRecordingAsync()
    {
        while (_recordings.Count > 0)
        {
            await FinishOldestRecordingAsync();
        }
    }

    /// <summary>Applies the batches of records that have landed, oldest first, up to the first still being written.</summary>
    private async Task FinishLandedRecordingsAsync()
    {
        while (_recordings.TryPeek(out var oldest) && oldest.Stored.IsCompleted)
        {
            await FinishOldestRecordingAsync();
        }
    }

    private async Task FinishOldestRecordingAsync()
    {
        var oldest = _recordings.Dequeue();
        Recorded(oldest.Records, await oldest.Stored);
    }

    /// <summary><see cref="FinishRecordingAsync"/> for the rebalance handlers, which librdkafka calls synchronously inside the poll.</summary>
    private void FinishRecording()
    {
        while (_recordings.TryDequeue(out var oldest))
        {
            Recorded(oldest.Records, oldest.Stored.GetAwaiter().GetResult());
        }
    }

    /// <summary>Applies a landed batch of records, and keeps its list for a later batch (<see cref="MaxSpareRecordLists"/>).</summary>
    private void Recorded(List<WindowRecord> records, int stored)
    {
        if (stored < records.Count)
        {
            logger.LogDebug("{Count} of {Total} windows were recorded already", records.Count - stored, records.Count);
        }

        foreach (var record in records)
        {
            var ticks = record.Start.UtcTicks;
            _commits.Release(record.Service, ticks);
            // After a rebalance forgot its history and alerts (Loaded false), they are reloaded on its next event.
            var state = StateOf(record.Service);
            state.Closed = state.Closed with { Through = Math.Max(state.Closed.Through, ticks), Here = Math.Max(state.Closed.Here, ticks) };
        }

        // Lists of records are large objects already at about 500 windows (a record is about 160 bytes), and are kept for that
        // reason; a slot's first batch can hold all 10,000 windows, and a list that large (1.6 MB) is not kept.
        if (_spareRecords.Count < MaxSpareRecordLists && records.Capacity <= MaxSpareRecordCapacity)
        {
            records.Clear();
            _spareRecords.Push(records);
        }
    }

    /// <summary>A batch of window records being written, and the write's count of rows it added.</summary>
    private sealed record InFlight(Task<int> Stored, List<WindowRecord> Records);

    private async Task PublishAsync(AnomalyAlert alert, Activity? window, IProducer<string, byte[]> producer, CancellationToken ct)
    {
        var headers = new Headers();
        var previous = Activity.Current;
        Activity.Current = window ?? previous;
        using var publish = KafkaTracing.StartPublish(_topics.AlertsTopic, headers);
        Activity.Current = previous;
        var started = Stopwatch.GetTimestamp();
        await producer.ProduceAsync(_topics.AlertsTopic, new Message<string, byte[]>
        {
            Key = alert.Service,
            Value = JsonSerializer.SerializeToUtf8Bytes(alert),
            Headers = headers,
        }, ct);
        metrics.AlertPublish.Record(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private async Task RefreshModelAsync(CancellationToken ct)
    {
        try
        {
            var version = await registry.GetActiveVersionAsync(ModelRegistry.EventsKind, ct);
            if (version is null || version == _model?.Version)
            {
                return;
            }

            if (await registry.LoadActiveAsync(ModelRegistry.EventsKind, EventWindowFeatures.Schema, ct) is { } loaded)
            {
                _model = (loaded.Record.Version, loaded.Model);
                logger.LogInformation("Scoring with events model v{Version} (threshold {Threshold:0.0000})", loaded.Record.Version, loaded.Model.Threshold);
            }
        }
        catch (ModelSchemaMismatchException ex)
        {
            logger.LogError("Active model ignored, keeping v{Version}: {Message}", _model?.Version, ex.Message);
        }
    }
}

public static class DetectionRegistration
{
    /// <summary>
    /// The detection path (Helios:Detection:Enabled) and the storage writer (Helios:Storage:Enabled) run by
    /// default; either can be switched off, e.g. to measure one path alone (bench `pipeline`). The detector's
    /// readiness check exists only when its worker runs; /health then reports the shared checks alone.
    /// </summary>
    public static IHostApplicationBuilder AddDetection(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<DetectorMetrics>();
        if (builder.Configuration.GetValue("Helios:Detection:Enabled", true))
        {
            builder.Services.AddSingleton<AlertStore>();
            builder.Services.AddSingleton<WindowStore>();
            builder.Services.AddSingleton<DetectorLoops>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<DetectorLoops>());
            builder.Services.AddHealthChecks().AddCheck<DetectorLoops>("detector");
        }

        if (builder.Configuration.GetValue("Helios:Storage:Enabled", true))
        {
            builder.Services.AddSingleton<Storage.StorageMetrics>();
            builder.Services.AddHostedService<Storage.EventStorageWorker>();
            builder.Services.AddHostedService<Storage.EventMinutesFolder>();
        }

        return builder;
    }
}

/// <summary>The process's consume loops (<see cref="DetectionOptions.Loops"/>): started and stopped together, their health together, their gauges summed.</summary>
public sealed class DetectorLoops : IHostedService, IHealthCheck, IDisposable
{
    public DetectorLoops(IServiceProvider services, IOptions<DetectionOptions> options, DetectorMetrics metrics)
    {
        Loops = [.. Enumerable.Range(0, options.Value.Loops).Select(i => ActivatorUtilities.CreateInstance<DetectorWorker>(services, i))];
        metrics.ObserveOpenWindows(() => Loops.Sum(l => l.OpenWindows));
        metrics.ObserveConsumerLag(() => Loops.Sum(l => l.Lag));
        // The version every loop scores with: the lowest, so a change shows once all have taken it.
        metrics.ObserveModelVersion(() => Loops.Min(l => l.ModelVersion));
    }

    public IReadOnlyList<DetectorWorker> Loops { get; }

    public Task StartAsync(CancellationToken cancellationToken) => Task.WhenAll(Loops.Select(l => l.StartAsync(cancellationToken)));

    public Task StopAsync(CancellationToken cancellationToken) => Task.WhenAll(Loops.Select(l => l.StopAsync(cancellationToken)));

    public void Dispose()
    {
        foreach (var loop in Loops)
        {
            loop.Dispose();
        }
    }

    /// <summary>Ready once every loop has a model and has subscribed.</summary>
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var results = Loops.Select(l => l.Health()).ToList();
        var description = string.Join("; ", results.Select(r => r.Description));
        return Task.FromResult(results.All(r => r.Status == HealthStatus.Healthy) ? HealthCheckResult.Healthy(description) : HealthCheckResult.Unhealthy(description));
    }
}
