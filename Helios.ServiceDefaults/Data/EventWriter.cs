using System.Buffers;
using System.Runtime.InteropServices;
using Helios.Core.Events;
using Npgsql;

namespace Helios.ServiceDefaults.Data;

/// <summary>An accepted event's columns (its text in the batch's <see cref="Utf8Arena"/>) and where it was read.</summary>
public readonly record struct StoredEvent(EventFields Event, EventTextRange Text, int Partition, long Offset);

/// <summary>
/// Where a batch left a partition: the offset after the last message read into it, and a copy of that message's value
/// (kept in a buffer reused from batch to batch, since messages are read in place and released).
/// </summary>
public sealed class ConsumedPosition
{
    private byte[] _last = new byte[1024];
    private int _length = -1;

    /// <summary>The offset of the first message read into the batch.</summary>
    public long First { get; private set; }

    public long Next { get; private set; }

    /// <summary>The fingerprint of the last message's value (see <see cref="MessageFingerprint"/>).</summary>
    public long Fingerprint => _length < 0 ? MessageFingerprint.Null : MessageFingerprint.Of(_last.AsSpan(0, _length));

    internal void Set(long offset, ReadOnlySpan<byte> value, bool isNull, bool first)
    {
        if (first)
        {
            First = offset;
        }

        Next = offset + 1;
        if (isNull)
        {
            _length = -1;
            return;
        }

        if (value.Length > _last.Length)
        {
            _last = new byte[Math.Max(value.Length, _last.Length * 2)];
        }

        value.CopyTo(_last);
        _length = value.Length;
    }
}

/// <summary>
/// A batch of events to store: their columns, their text as UTF-8 in one reusable buffer, and, per partition, how far
/// it read (malformed messages, which add no event, included).
/// </summary>
public sealed class EventBatch(int capacity = 20_000)
{
    private readonly Dictionary<int, ConsumedPosition> _positions = []; // kept between batches: their buffers are reused

    public List<StoredEvent> Events { get; } = new(capacity);

    public Utf8Arena Text { get; } = new();

    /// <summary>Per partition, where the batch left it: <see cref="EventWriter"/> moves the ledger there.</summary>
    public Dictionary<int, ConsumedPosition> Consumed { get; } = [];

    public int Count => Events.Count;

    public void Add(EventFields evt, EventTextRange text, int partition, long offset) => Events.Add(new StoredEvent(evt, text, partition, offset));

    /// <summary>An event the parser read (the fast reader left it to the parser).</summary>
    public void Add(TelemetryEvent e, int partition, long offset) =>
        Add(EventFields.From(e), new EventTextRange(Text.Append(e.Message), Text.Append(e.TraceId), Text.Append(e.SpanId), Text.Append(e.Metadata?.GetRawText())), partition, offset);

    /// <summary>Records a message read into the batch, in the partition's order, whether it added an event or not.</summary>
    public void MarkConsumed(int partition, long offset, ReadOnlySpan<byte> value, bool isNull = false)
    {
        ref var position = ref CollectionsMarshal.GetValueRefOrAddDefault(Consumed, partition, out var known);
        if (!known)
        {
            ref var kept = ref CollectionsMarshal.GetValueRefOrAddDefault(_positions, partition, out var exists);
            position = exists ? kept! : (kept = new ConsumedPosition());
        }

        position!.Set(offset, value, isNull, first: !known);
    }

    public void Clear()
    {
        Events.Clear();
        Text.Clear();
        Consumed.Clear();
    }
}

/// <summary>How a batch reached <c>events</c>.</summary>
public enum EventWritePath
{
    /// <summary>Copied whole: none of its messages were stored before (the usual case).</summary>
    Direct,

    /// <summary>Written again after the ledger showed some of its messages stored: only the others went in.</summary>
    Filtered,
}

/// <summary>What a write did: its path, the events it stored, and those it left out as stored already.</summary>
public readonly record struct EventWriteResult(EventWritePath Path, int Stored, int AlreadyStored);

/// <summary>
/// Writes batches of events into <c>events</c>, on one connection and one transaction per batch, and stores each
/// message's event once without a key on <c>events</c>: the transaction also moves the ledger <c>event_offsets</c> (per
/// topic and partition: the next offset to store, and a fingerprint of the message before it) to where the batch left
/// each partition; and adds the per-minute sums of several batches (<see cref="MinuteSums"/>) to <c>event_minutes</c>
/// by <see cref="WriteSumsAsync"/>, which moves the same rows' sums ledger.
/// <para>A batch of fresh events (the usual case) is copied whole into <c>events</c>; only then are its partitions'
/// ledger rows locked and checked, so two writers' COPYs run at once. If a partition's ledger is already past the
/// batch's first event there (a batch read again after a crash or a rebalance), the transaction is rolled back and the
/// batch written again with its ledger rows locked first and the stored messages left out.</para>
/// <para>A writer whose batches follow another's in the same partitions passes that write as <c>previous</c>: its ledger
/// step waits for it, so the ledger moves in batch order. <see cref="FoldMinutesAsync"/> moves the pending sums into
/// <c>event_minutes_folded</c>; the view <c>event_minutes</c> adds the two.</para>
/// </summary>
public sealed class EventWriter(NpgsqlConnection connection)
{
    private const string Columns = "ts, service, level, message, latency_ms, endpoint, trace_id, span_id, metadata, kafka_partition, kafka_offset";

    private readonly HashSet<DateOnly> _partitions = [];
    private readonly Dictionary<int, long> _firstOffsets = [];
    private readonly Dictionary<int, long> _ledger = [];
    private readonly Dictionary<int, long> _summed = [];
    private readonly List<KeyValuePair<MinuteKey, MinuteTotals>> _sumRows = []; // reused from call to call by CopySumsAsync
    private readonly List<StoredEvent> _unstored = [];

    // Reused from batch to batch by SortByServiceAndTime.
    private readonly Dictionary<string, int> _serviceRanks = new(StringComparer.Ordinal);
    private string[] _services = [];
    private RowKey[] _keys = [];
    private StoredEvent[] _rows = [];
    private bool? _partitioned;
    private bool? _metadataJsonb;

    /// <summary>Writes one batch read from <paramref name="topic"/>, after <paramref name="previous"/> has moved the ledger.</summary>
    public async Task<EventWriteResult> WriteAsync(EventBatch batch, string topic, Task previous, CancellationToken ct)
    {
        if (batch.Consumed.Count == 0)
        {
            await previous;
            return new EventWriteResult(EventWritePath.Direct, 0, 0);
        }

        await ReadSchemaAsync(ct);
        await EnsurePartitionsAsync(batch, ct);
        SortByServiceAndTime(batch.Events);
        _firstOffsets.Clear();
        foreach (var row in CollectionsMarshal.AsSpan(batch.Events))
        {
            ref var first = ref CollectionsMarshal.GetValueRefOrAddDefault(_firstOffsets, row.Partition, out var seen);
            first = seen ? Math.Min(first, row.Offset) : row.Offset;
        }

        await using (var tx = await connection.BeginTransactionAsync(ct))
        {
            if (batch.Count > 0)
            {
                await CopyAsync("events", batch.Events, batch.Text, ct);
            }

            await previous;
            if (await NothingStoredAsync(topic, batch, tx, ct))
            {
                await MoveLedgerAsync(topic, batch, tx, ct);
                await tx.CommitAsync(ct);
                return new EventWriteResult(EventWritePath.Direct, batch.Count, 0);
            }

            await tx.RollbackAsync(ct);
        }

        return await WriteUnstoredAsync(batch, topic, ct);
    }

    /// <summary>Locks the batch's ledger rows; whether every partition's first event lies at or past its next offset.</summary>
    private async Task<bool> NothingStoredAsync(string topic, EventBatch batch, NpgsqlTransaction tx, CancellationToken ct)
    {
        try
        {
            await LockLedgerAsync(topic, batch.Consumed.Keys, tx, ct);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DeadlockDetected)
        {
            // Another process's writer holds some of these rows and waits for ours (a rebalance's overlap): roll back and
            // write again with the rows locked first, in the same order as every other writer.
            return false;
        }

        foreach (var (partition, first) in _firstOffsets)
        {
            if (_ledger.TryGetValue(partition, out var next) && first < next)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The ledger first, then only the events of messages it does not count as stored.</summary>
    private async Task<EventWriteResult> WriteUnstoredAsync(EventBatch batch, string topic, CancellationToken ct)
    {
        await using var tx = await connection.BeginTransactionAsync(ct);
        await LockLedgerAsync(topic, batch.Consumed.Keys, tx, ct);
        _unstored.Clear();
        foreach (var row in CollectionsMarshal.AsSpan(batch.Events))
        {
            if (!_ledger.TryGetValue(row.Partition, out var next) || row.Offset >= next)
            {
                _unstored.Add(row);
            }
        }

        if (_unstored.Count > 0)
        {
            await CopyAsync("events", _unstored, batch.Text, ct);
        }

        await MoveLedgerAsync(topic, batch, tx, ct);
        await tx.CommitAsync(ct);
        var result = new EventWriteResult(EventWritePath.Filtered, _unstored.Count, batch.Count - _unstored.Count);
        _unstored.Clear(); // no strings held past the batch
        return result;
    }

    /// <summary>Creates the partitions' ledger rows where missing, then locks them in partition order and reads both their offsets.</summary>
    private async Task LockLedgerAsync(string topic, IEnumerable<int> ofPartitions, NpgsqlTransaction tx, CancellationToken ct)
    {
        var partitions = ofPartitions.Order().ToArray();
        await using var lockRows = new NpgsqlBatch(connection, tx)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand(
                    """
                    INSERT INTO event_offsets (topic, partition, next_offset, last_fingerprint)
                    SELECT $1, p, 0, 0 FROM unnest($2::integer[]) AS p ORDER BY p
                    ON CONFLICT DO NOTHING
                    """) { Parameters = { new() { Value = topic }, new() { Value = partitions } } },
                new NpgsqlBatchCommand("SELECT partition, next_offset, summed_offset FROM event_offsets WHERE topic = $1 AND partition = ANY($2) ORDER BY partition FOR UPDATE")
                {
                    Parameters = { new() { Value = topic }, new() { Value = partitions } },
                },
            },
        };
        _ledger.Clear();
        _summed.Clear();
        await using var reader = await lockRows.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            _ledger[reader.GetInt32(0)] = reader.GetInt64(1);
            _summed[reader.GetInt32(0)] = reader.GetInt64(2);
        }
    }

    /// <summary>Moves each partition's ledger row forward to where the batch left it (never back: a slower member's batch may land after a faster one's).</summary>
    private async Task MoveLedgerAsync(string topic, EventBatch batch, NpgsqlTransaction tx, CancellationToken ct)
    {
        var n = batch.Consumed.Count;
        var partitions = new int[n];
        var nexts = new long[n];
        var fingerprints = new long[n];
        var i = 0;
        foreach (var (partition, position) in batch.Consumed)
        {
            (partitions[i], nexts[i], fingerprints[i]) = (partition, position.Next, position.Fingerprint);
            i++;
        }

        await using var move = new NpgsqlCommand(
            """
            UPDATE event_offsets o SET next_offset = b.next, last_fingerprint = b.fingerprint
            FROM unnest($2::integer[], $3::bigint[], $4::bigint[]) AS b(partition, next, fingerprint)
            WHERE o.topic = $1 AND o.partition = b.partition AND o.next_offset < b.next
            """, connection, tx)
        {
            Parameters = { new() { Value = topic }, new() { Value = partitions }, new() { Value = nexts }, new() { Value = fingerprints } },
        };
        await move.ExecuteNonQueryAsync(ct);
    }

    private Task CopyAsync(string table, List<StoredEvent> rows, Utf8Arena text, CancellationToken ct)
    {
        var jsonb = _metadataJsonb!.Value;
        return RawCopy.WriteRowsAsync(connection, $"COPY {table} ({Columns}) FROM STDIN (FORMAT BINARY)", rows, EventCopyRows.MaxBytes,
            (Span<byte> destination, in StoredEvent row) => EventCopyRows.Write(destination, row, text, jsonb), ct);
    }

    /// <summary>
    /// Adds <paramref name="sums"/> (read after the batches written before <paramref name="previous"/>) to the aggregates and
    /// moves each partition's sums ledger (<c>event_offsets.summed_offset</c>) to its <see cref="PartitionSums.Next"/>, in one
    /// transaction, so each event is counted once: the sums are appended to <c>event_minutes_pending</c> by one binary COPY,
    /// and only then are the ledger rows locked and checked. A partition's sums are taken as they are where its ledger
    /// stands at their <see cref="PartitionSums.First"/> (the usual case; also where it stands below it: messages this
    /// member never read, after a ledger reset, which the event ledger skips alike) and left out where it stands at or
    /// past their end (another member counted them). Where it stands inside them (another member counted the start of
    /// the run: a rebalance's overlap), the transaction is rolled back and the sums written again with the rows locked
    /// first, the rest of that partition's run counted from the stored events instead. Returns the sum rows written and
    /// the partitions recounted.
    /// </summary>
    public async Task<(int Rows, int Recounted)> WriteSumsAsync(MinuteSums sums, string topic, Task previous, CancellationToken ct)
    {
        // The events summed are stored before their sums count them: a recount reads them back.
        await previous;
        if (sums.Partitions.Count == 0)
        {
            return (0, 0);
        }

        await using (var tx = await connection.BeginTransactionAsync(ct))
        {
            var rows = await CopySumsAsync(sums.Partitions.Values, ct);
            await LockLedgerAsync(topic, sums.Partitions.Keys, tx, ct);
            if (sums.Partitions.All(TakenAsIs))
            {
                await MoveSumsLedgerAsync(topic, sums, tx, ct);
                await tx.CommitAsync(ct);
                return (rows, 0);
            }

            await tx.RollbackAsync(ct);
        }

        return await WriteSumsLockedAsync(sums, topic, ct);
    }

    /// <summary>The ledger rows first; then each partition's sums as they are, none, or recounted from where its ledger stands.</summary>
    private async Task<(int Rows, int Recounted)> WriteSumsLockedAsync(MinuteSums sums, string topic, CancellationToken ct)
    {
        await using var tx = await connection.BeginTransactionAsync(ct);
        await LockLedgerAsync(topic, sums.Partitions.Keys, tx, ct);
        var rows = await CopySumsAsync(sums.Partitions.Where(TakenAsIs).Select(p => p.Value), ct);
        var recounted = 0;
        foreach (var (partition, run) in sums.Partitions)
        {
            // Nothing to count again where the run holds no event (malformed messages only).
            var summed = _summed[partition];
            if (TakenAsIs(new(partition, run)) || summed >= run.Next || run.MinTicks > run.MaxTicks)
            {
                continue;
            }

            // This member read every message of [summed, Next), so their events lie within the times it summed; and each
            // is stored (this member's writes came first, and a message the event ledger left out had been committed).
            await using var recount = new NpgsqlCommand(
                """
                INSERT INTO event_minutes_pending (service, minute, events, errors, latency_count, latency_sum, latency_max)
                SELECT service, date_bin('1 minute', ts, timestamptz '2000-01-01 00:00+00'), count(*), count(*) FILTER (WHERE level >= $4),
                       count(latency_ms), coalesce(sum(latency_ms), 0), max(latency_ms)
                FROM events
                WHERE kafka_partition = $1 AND kafka_offset >= $2 AND kafka_offset < $3 AND ts >= $5 AND ts <= $6
                GROUP BY 1, 2
                """, connection, tx)
            {
                Parameters =
                {
                    new() { Value = partition }, new() { Value = summed }, new() { Value = run.Next }, new() { Value = (short)EventLevel.Error },
                    new() { Value = new DateTime(run.MinTicks, DateTimeKind.Utc) }, new() { Value = new DateTime(run.MaxTicks, DateTimeKind.Utc) },
                },
            };
            rows += await recount.ExecuteNonQueryAsync(ct);
            recounted++;
        }

        await MoveSumsLedgerAsync(topic, sums, tx, ct);
        await tx.CommitAsync(ct);
        return (rows, recounted);
    }

    /// <summary>Whether a partition's sums go in as they are: its sums ledger (as last locked) stands at or below the run's start.</summary>
    private bool TakenAsIs(KeyValuePair<int, PartitionSums> run) => _summed[run.Key] <= run.Value.First;

    /// <summary>Moves each partition's sums ledger forward to the end of its run (never back: another member may have counted further).</summary>
    private async Task MoveSumsLedgerAsync(string topic, MinuteSums sums, NpgsqlTransaction tx, CancellationToken ct)
    {
        var partitions = sums.Partitions.Keys.ToArray();
        var nexts = partitions.Select(p => sums.Partitions[p].Next).ToArray();
        await using var move = new NpgsqlCommand(
            """
            UPDATE event_offsets o SET summed_offset = b.next
            FROM unnest($2::integer[], $3::bigint[]) AS b(partition, next)
            WHERE o.topic = $1 AND o.partition = b.partition AND o.summed_offset < b.next
            """, connection, tx)
        {
            Parameters = { new() { Value = topic }, new() { Value = partitions }, new() { Value = nexts } },
        };
        await move.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Appends the runs' sums to <c>event_minutes_pending</c> by one binary COPY, encoded here
    /// (<see cref="EventCopyRows.WriteMinute"/>) from a list kept between calls: array parameters (one element per minute,
    /// thousands per call) cost large-object-heap garbage on both sides and an unnest on the server. Returns the rows.
    /// </summary>
    private async Task<int> CopySumsAsync(IEnumerable<PartitionSums> runs, CancellationToken ct)
    {
        var rows = _sumRows;
        rows.Clear();
        foreach (var run in runs)
        {
            rows.AddRange(run.Minutes);
        }

        if (rows.Count > 0)
        {
            await RawCopy.WriteRowsAsync(
                connection,
                "COPY event_minutes_pending (service, minute, events, errors, latency_count, latency_sum, latency_max) FROM STDIN (FORMAT BINARY)",
                rows,
                (in KeyValuePair<MinuteKey, MinuteTotals> m) => EventCopyRows.MaxMinuteBytes(m.Key.Service),
                (Span<byte> destination, in KeyValuePair<MinuteKey, MinuteTotals> m) => EventCopyRows.WriteMinute(destination, m.Key.Service, m.Key.MinuteTicks,
                    m.Value.Events, m.Value.Errors, m.Value.LatencyCount, m.Value.LatencySum, m.Value.LatencyMax),
                ct);
        }

        var count = rows.Count;
        rows.Clear(); // no service names held past the call
        return count;
    }

    /// <summary>
    /// Moves every committed row of <c>event_minutes_pending</c> into <c>event_minutes_folded</c>, summed per key, in one
    /// transaction: a reader of <c>event_minutes</c> sees each sum in exactly one of the two. Writers append meanwhile
    /// (their uncommitted rows are not moved), and concurrent folds, from other processes, skip the rows one of them
    /// deleted first; keys are upserted in order, so folds lock them alike (a fold that fails anyway leaves its rows pending
    /// for the next). Returns the rows moved and the keys folded.
    /// </summary>
    public static async Task<(long Moved, long Keys)> FoldMinutesAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        // The sort and the moved rows fit in memory (the default 4 MB spilled them to temporary files).
        await using var tx = await connection.BeginTransactionAsync(ct);
        await using (var memory = new NpgsqlCommand("SET LOCAL work_mem = '64MB'", connection, tx))
        {
            await memory.ExecuteNonQueryAsync(ct);
        }

        await using var fold = new NpgsqlCommand(
            """
            WITH moved AS (
                DELETE FROM event_minutes_pending
                RETURNING service, minute, events, errors, latency_count, latency_sum, latency_max),
            folded AS (
                INSERT INTO event_minutes_folded AS m (service, minute, events, errors, latency_count, latency_sum, latency_max)
                SELECT service, minute, sum(events), sum(errors), sum(latency_count), sum(latency_sum), max(latency_max)
                FROM moved GROUP BY service, minute
                ORDER BY service, minute
                ON CONFLICT (service, minute) DO UPDATE SET
                    events = m.events + EXCLUDED.events, errors = m.errors + EXCLUDED.errors,
                    latency_count = m.latency_count + EXCLUDED.latency_count, latency_sum = m.latency_sum + EXCLUDED.latency_sum,
                    latency_max = greatest(m.latency_max, EXCLUDED.latency_max)
                RETURNING 1)
            SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM folded)
            """, connection, tx);
        (long Moved, long Keys) result;
        await using (var reader = await fold.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            result = (reader.GetInt64(0), reader.GetInt64(1));
        }

        await tx.CommitAsync(ct);
        return result;
    }

    /// <summary>
    /// Summarizes the block ranges of the <c>(service, ts)</c> BRIN index that rows filled since the last call, in every
    /// partition (or TimescaleDB chunk) of <c>events</c>: lookups read a range that is not summarized yet whole. Returns
    /// the ranges summarized. Concurrent calls (other processes) wait for one another; writers do not wait.
    /// </summary>
    public static async Task<long> SummarizeNewRangesAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var summarize = new NpgsqlCommand(
            """
            SELECT coalesce(sum(brin_summarize_new_values(x.indexrelid)), 0)::bigint
            FROM pg_inherits h
            JOIN pg_index x ON x.indrelid = h.inhrelid
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_am a ON a.oid = i.relam AND a.amname = 'brin'
            WHERE h.inhparent = 'events'::regclass
            """, connection);
        return (long)(await summarize.ExecuteScalarAsync(ct))!;
    }

    /// <summary>
    /// Puts the rows in the order of the <c>(service, ts)</c> index, so one service's rows of a batch share a heap page or
    /// two and its BRIN ranges stay narrow (see migration 0009; when that index was a B-tree, the order also kept
    /// consecutive index inserts on neighbouring pages: 77,900 to 89,300 rows/s). Services are ranked once each (ordinal order, which is the C
    /// collation's byte order but for rare characters; only locality depends on it), then small keys are sorted and the rows moved once: sorting the rows themselves
    /// with a string comparison had been 9 % of the storage loop's CPU.
    /// </summary>
    private void SortByServiceAndTime(List<StoredEvent> events)
    {
        var n = events.Count;
        _serviceRanks.Clear();
        foreach (var row in CollectionsMarshal.AsSpan(events))
        {
            _serviceRanks.TryAdd(row.Event.Service, 0);
        }

        EnsureLength(ref _services, _serviceRanks.Count);
        _serviceRanks.Keys.CopyTo(_services, 0);
        var services = _services.AsSpan(0, _serviceRanks.Count);
        services.Sort(StringComparer.Ordinal);
        for (var i = 0; i < services.Length; i++)
        {
            _serviceRanks[services[i]] = i;
        }

        EnsureLength(ref _keys, n);
        EnsureLength(ref _rows, n);
        var rows = CollectionsMarshal.AsSpan(events);
        rows.CopyTo(_rows);
        var keys = _keys.AsSpan(0, n);
        for (var i = 0; i < n; i++)
        {
            keys[i] = new RowKey(_serviceRanks[rows[i].Event.Service], rows[i].Event.TimestampTicks, i);
        }

        keys.Sort();
        for (var i = 0; i < n; i++)
        {
            rows[i] = _rows[keys[i].Row];
        }

        Array.Clear(_rows, 0, n); // no strings held past the batch
        Array.Clear(_services, 0, services.Length);
    }

    private static void EnsureLength<T>(ref T[] array, int length)
    {
        if (array.Length < length)
        {
            array = new T[Math.Max(length, array.Length * 2)];
        }
    }

    private readonly record struct RowKey(int Service, long Ticks, int Row) : IComparable<RowKey>
    {
        public int CompareTo(RowKey other) =>
            Service != other.Service ? Service.CompareTo(other.Service) : Ticks != other.Ticks ? Ticks.CompareTo(other.Ticks) : Row.CompareTo(other.Row);
    }

    /// <summary>
    /// Reads, once per writer, the two facts of the schema that differ with TimescaleDB: whether <c>events</c> is
    /// partitioned by day (else a hypertable), and whether <c>metadata</c> is jsonb (on a hypertable) or json (migration
    /// 0011); their binary COPY forms differ by a version byte.
    /// </summary>
    private async Task ReadSchemaAsync(CancellationToken ct)
    {
        if (_partitioned is not null)
        {
            return;
        }

        await using var schema = new NpgsqlCommand(
            """
            SELECT (SELECT relkind = 'p' FROM pg_class WHERE oid = 'events'::regclass),
                   (SELECT atttypid = 'jsonb'::regtype FROM pg_attribute WHERE attrelid = 'events'::regclass AND attname = 'metadata')
            """, connection);
        await using var reader = await schema.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        (_partitioned, _metadataJsonb) = (reader.GetBoolean(0), reader.GetBoolean(1));
    }

    /// <summary>Without TimescaleDB, events live in daily range partitions, created here as days arrive.</summary>
    private async Task EnsurePartitionsAsync(EventBatch batch, CancellationToken ct)
    {
        if (_partitioned is not true)
        {
            return;
        }

        var days = new List<DateOnly>();
        var lastDay = -1L;
        foreach (var row in CollectionsMarshal.AsSpan(batch.Events))
        {
            // Rows of a batch are mostly of one day: a set lookup only when the day changes from the row before.
            var day = row.Event.TimestampTicks / TimeSpan.TicksPerDay;
            if (day != lastDay)
            {
                lastDay = day;
                var date = DateOnly.FromDayNumber((int)day);
                if (!_partitions.Contains(date) && !days.Contains(date))
                {
                    days.Add(date);
                }
            }
        }

        foreach (var day in days)
        {
            var from = day.ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc);
            await using var create = new NpgsqlCommand(
                $"CREATE TABLE IF NOT EXISTS events_{day:yyyyMMdd} PARTITION OF events FOR VALUES FROM ('{from:yyyy-MM-dd}') TO ('{from.AddDays(1):yyyy-MM-dd}')", connection);
            try
            {
                await create.ExecuteNonQueryAsync(ct);
            }
            catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.DuplicateTable or PostgresErrorCodes.UniqueViolation)
            {
                // Another writer created it at the same moment.
            }

            _partitions.Add(day);
        }
    }
}
