using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace Helios.Core.Events;

/// <summary>What windowing needs of an event (read by <see cref="EventFieldsReader"/>): its UTC time, service, level, latency (NaN for none) and endpoint.</summary>
public readonly record struct EventFields(long TimestampTicks, string Service, EventLevel Level, double LatencyMs, string? Endpoint)
{
    public DateTimeOffset Timestamp => new(TimestampTicks, TimeSpan.Zero);

    public static EventFields From(TelemetryEvent e) => new(e.Timestamp.UtcTicks, e.Service, e.Level, e.LatencyMs, e.Endpoint);
}

/// <summary>
/// The consumer's hot path: one pass over an event (a byte scanner for the plain forms, else <see cref="Utf8JsonReader"/>),
/// reading only what windowing needs, with service and endpoint names interned (no allocation per event once a name is known).
/// It answers yes only when <see cref="EventParser"/> would accept the event with the same values: anything
/// it is not sure about (an escaped name, the "time" alias, a lower-case level, a timestamp outside the plain
/// RFC 3339 form, a repeated field, anything invalid) returns false, and the caller asks
/// <see cref="EventParser"/>, which stays the one judge of what is valid and why not. One reader per thread.
/// </summary>
public sealed partial class EventFieldsReader
{
    /// <summary>Beyond this many distinct names, new ones are allocated per event instead of kept.</summary>
    public const int MaxInternedNames = 200_000;

    /// <summary>Bits of the fields read, to refuse a repeated one.</summary>
    private const int Timestamp = 1, Service = 2, Level = 4, Metadata = 8, Message = 16, TraceId = 32, SpanId = 64, Time = 128;

    private readonly Dictionary<string, InternedName> _names = new(Utf8NameComparer.Instance);
    private readonly Dictionary<string, InternedName>.AlternateLookup<ReadOnlySpan<byte>> _lookup;

    /// <summary>The date of the timestamp read last (most of a stream's share one).</summary>
    private Rfc3339.Day _day;

    /// <summary>The service name of the event read last (see <see cref="TryRead(ReadOnlySpan{byte}, out EventFields, out InternedName)"/>).</summary>
    private InternedName? _service;

    public EventFieldsReader()
    {
        _lookup = _names.GetAlternateLookup<ReadOnlySpan<byte>>();
    }

    public bool TryRead(ReadOnlySpan<byte> utf8, out EventFields evt) => TryRead(utf8, null, out evt, out _);

    /// <summary>
    /// <see cref="TryRead(ReadOnlySpan{byte}, out EventFields)"/>, with the service's interned name, whose
    /// <see cref="InternedName.State"/> the caller may use for what it keeps per service: found with the name, it costs
    /// no lookup of its own.
    /// </summary>
    public bool TryRead(ReadOnlySpan<byte> utf8, out EventFields evt, out InternedName service)
    {
        _service = null;
        var read = TryRead(utf8, null, out evt, out _);
        service = read ? _service! : null!;
        return read;
    }

    /// <summary>
    /// <see cref="TryRead"/> plus what storage keeps besides, as UTF-8 in <paramref name="arena"/> (no object per
    /// event), with the values <see cref="EventParser"/> would give: the storage writer's path. On false nothing
    /// stays appended.
    /// </summary>
    public bool TryReadRow(ReadOnlySpan<byte> utf8, Utf8Arena arena, out EventFields evt, out EventTextRange text) => TryRead(utf8, arena, out evt, out text);

    private bool TryRead(ReadOnlySpan<byte> utf8, Utf8Arena? arena, out EventFields evt, out EventTextRange text)
    {
        evt = default;
        text = default;
        // A plain event (ASCII, nothing escaped) gets its quotes indexed for the scanner, and is valid UTF-8 as it is. The
        // parser refuses an event with any text that is not UTF-8, read by this reader or not.
        Span<ulong> quotes = utf8.Length <= QuoteIndex.MaxBytes ? stackalloc ulong[QuoteIndex.Words(utf8.Length)] : default;
        if (!QuoteIndex.TryBuild(utf8, quotes))
        {
            quotes = default;
            if (!Utf8.IsValid(utf8))
            {
                return false;
            }
        }

        // The plain forms first, by the byte scanner (with the text storage keeps, when asked).
        var mark = arena?.Length ?? 0;
        if (TryScan(utf8, quotes, arena, out evt, out text))
        {
            return true;
        }

        arena?.Truncate(mark);
        return TryReadTokens(utf8, arena, out evt, out text);
    }

    /// <summary>The token pass alone (<see cref="Utf8JsonReader"/>), for what the scanner was unsure of; on false nothing stays appended.</summary>
    internal bool TryReadTokens(ReadOnlySpan<byte> utf8, Utf8Arena? arena, out EventFields evt, out EventTextRange text)
    {
        evt = default;
        text = default;
        var mark = arena?.Length ?? 0;
        try
        {
            if (TryReadCore(utf8, arena, out evt, out text))
            {
                return true;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: an escaped lone surrogate in a string this reader decodes.
        }

        arena?.Truncate(mark);
        return false;
    }

    private bool TryReadCore(ReadOnlySpan<byte> utf8, Utf8Arena? arena, out EventFields evt, out EventTextRange text)
    {
        evt = default;
        text = default;
        var reader = new Utf8JsonReader(utf8, isFinalBlock: true, state: default);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        long ticks = 0;
        string? service = null;
        EventLevel? level = null;
        var latency = double.NaN;
        string? endpoint = null;
        Utf8Range message = Utf8Range.None, traceId = Utf8Range.None, spanId = Utf8Range.None, metadata = Utf8Range.None;
        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueIsEscaped)
            {
                return false;
            }

            var field = Field(reader.ValueSpan);
            if (field != 0 && (seen & field) != 0)
            {
                return false;
            }

            seen |= field;
            reader.Read();
            var token = reader.TokenType;
            switch (field)
            {
                case Timestamp:
                    if (token != JsonTokenType.String || reader.ValueIsEscaped || !Rfc3339.TryParseUtcTicks(reader.ValueSpan, ref _day, out ticks))
                    {
                        return false;
                    }

                    break;
                case Service:
                    if (token != JsonTokenType.String || reader.ValueIsEscaped || (service = ServiceName(reader.ValueSpan)) is null
                        || string.IsNullOrWhiteSpace(service))
                    {
                        return false;
                    }

                    break;
                case Level:
                    if (token != JsonTokenType.String || reader.ValueIsEscaped || (level = LevelOf(reader.ValueSpan)) is null)
                    {
                        return false;
                    }

                    break;
                case Metadata:
                    if (token == JsonTokenType.StartObject)
                    {
                        var start = (int)reader.TokenStartIndex;
                        if (!TryReadMetadata(ref reader, ref latency, ref endpoint))
                        {
                            return false;
                        }

                        if (arena is not null)
                        {
                            // The object's own bytes, as JsonElement.GetRawText returns them.
                            metadata = arena.Append(utf8[start..(int)reader.BytesConsumed]);
                        }
                    }
                    else if (token != JsonTokenType.Null)
                    {
                        return false;
                    }

                    break;
                case Message or TraceId or SpanId:
                    if (token is not (JsonTokenType.String or JsonTokenType.Null))
                    {
                        return false;
                    }

                    if (arena is not null && token == JsonTokenType.String)
                    {
                        // Unescaped as JsonElement.GetString would (an escaped string is never longer unescaped).
                        var value = reader.ValueIsEscaped
                            ? arena.Commit(reader.CopyString(arena.Reserve(reader.ValueSpan.Length)))
                            : arena.Append(reader.ValueSpan);
                        message = field == Message ? value : message;
                        traceId = field == TraceId ? value : traceId;
                        spanId = field == SpanId ? value : spanId;
                    }

                    break;
                case Time:
                    return false;
                default:
                    reader.Skip();
                    break;
            }
        }

        // The root object must be complete and alone, as JsonDocument requires.
        if (reader.TokenType != JsonTokenType.EndObject || reader.Read() || service is null || level is null || (seen & Timestamp) == 0)
        {
            return false;
        }

        evt = new EventFields(ticks, service, level.Value, latency, endpoint);
        if (arena is not null)
        {
            text = new EventTextRange(message.IsNull ? arena.Commit(0) : message, traceId, spanId, metadata);
        }

        return true;
    }

    private bool TryReadMetadata(ref Utf8JsonReader reader, ref double latency, ref string? endpoint)
    {
        var seen = 0;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueIsEscaped)
            {
                return false;
            }

            var field = reader.ValueSpan.SequenceEqual("latency_ms"u8) ? 1 : reader.ValueSpan.SequenceEqual("endpoint"u8) ? 2 : 0;
            if (field != 0 && (seen & field) != 0)
            {
                return false;
            }

            seen |= field;
            reader.Read();
            if (field == 1 && reader.TokenType == JsonTokenType.Number)
            {
                if (reader.TryGetDouble(out var value) && value > 0 && double.IsFinite(value))
                {
                    latency = value;
                }
            }
            else if (field == 2 && reader.TokenType == JsonTokenType.String)
            {
                if (reader.ValueIsEscaped || (endpoint = Name(reader.ValueSpan, 1024)) is null)
                {
                    return false;
                }
            }
            else
            {
                reader.Skip();
            }
        }

        return reader.TokenType == JsonTokenType.EndObject;
    }

    /// <summary>Which field a name is: by its length first, so a name costs one compare.</summary>
    private static int Field(ReadOnlySpan<byte> name) => name.Length switch
    {
        9 when name.SequenceEqual("timestamp"u8) => Timestamp,
        7 when name.SequenceEqual("service"u8) => Service,
        7 when name.SequenceEqual("message"u8) => Message,
        7 when name.SequenceEqual("span_id"u8) => SpanId,
        5 when name.SequenceEqual("level"u8) => Level,
        8 when name.SequenceEqual("metadata"u8) => Metadata,
        8 when name.SequenceEqual("trace_id"u8) => TraceId,
        4 when name.SequenceEqual("time"u8) => Time,
        _ => 0,
    };

    private static EventLevel? LevelOf(ReadOnlySpan<byte> text) => text switch
    {
        _ when text.SequenceEqual("INFO"u8) => EventLevel.Info,
        _ when text.SequenceEqual("ERROR"u8) => EventLevel.Error,
        _ when text.SequenceEqual("WARN"u8) || text.SequenceEqual("WARNING"u8) => EventLevel.Warn,
        _ when text.SequenceEqual("DEBUG"u8) => EventLevel.Debug,
        _ when text.SequenceEqual("CRITICAL"u8) => EventLevel.Critical,
        _ => null,
    };

    /// <summary>A service name as <see cref="Name"/> reads it, its interned entry kept for <see cref="TryRead(ReadOnlySpan{byte}, out EventFields, out InternedName)"/>.</summary>
    private string? ServiceName(ReadOnlySpan<byte> utf8)
    {
        _service = Interned(utf8, EventParser.MaxServiceLength);
        return _service?.Value;
    }

    /// <summary>The interned string of 1 to maxLength characters, or null outside that.</summary>
    private string? Name(ReadOnlySpan<byte> utf8, int maxLength) => Interned(utf8, maxLength)?.Value;

    private InternedName? Interned(ReadOnlySpan<byte> utf8, int maxLength)
    {
        // Valid UTF-8: the whole event was checked before reading.
        if (utf8.Length == 0 || utf8.Length > maxLength * 4)
        {
            return null;
        }

        // Looked up by its UTF-8 bytes: a known name costs a hash and a compare, no transcoding.
        if (_lookup.TryGetValue(utf8, out var known))
        {
            return known.Value.Length <= maxLength ? known : null;
        }

        if (utf8.Length > maxLength && Encoding.UTF8.GetCharCount(utf8) > maxLength)
        {
            return null;
        }

        var name = new InternedName(Encoding.UTF8.GetString(utf8));
        if (_names.Count < MaxInternedNames)
        {
            _names[name.Value] = name;
        }

        return name;
    }

    /// <summary>Ordinal string equality, with lookups by UTF-8 bytes: a string hashes as its UTF-8 form does.</summary>
    private sealed class Utf8NameComparer : IEqualityComparer<string>, IAlternateEqualityComparer<ReadOnlySpan<byte>, string>
    {
        public static readonly Utf8NameComparer Instance = new();

        public bool Equals(string? x, string? y) => string.Equals(x, y, StringComparison.Ordinal);

        public int GetHashCode(string obj)
        {
            var max = Encoding.UTF8.GetMaxByteCount(obj.Length);
            var rented = max > 1024 ? ArrayPool<byte>.Shared.Rent(max) : null;
            var buffer = rented ?? stackalloc byte[max];
            var hash = Hash(buffer[..Encoding.UTF8.GetBytes(obj, buffer)]);
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }

            return hash;
        }

        public int GetHashCode(ReadOnlySpan<byte> alternate) => Hash(alternate);

        public bool Equals(ReadOnlySpan<byte> alternate, string other)
        {
            // UTF-8 never has fewer bytes than UTF-16 has chars; equal counts and all ASCII compare byte to char.
            if (alternate.Length < other.Length)
            {
                return false;
            }

            if (alternate.Length == other.Length)
            {
                for (var i = 0; i < alternate.Length; i++)
                {
                    if (alternate[i] >= 0x80)
                    {
                        return Decoded(alternate, other);
                    }

                    if (alternate[i] != other[i])
                    {
                        return false;
                    }
                }

                return true;
            }

            return Decoded(alternate, other);
        }

        public string Create(ReadOnlySpan<byte> alternate) => Encoding.UTF8.GetString(alternate);

        private static bool Decoded(ReadOnlySpan<byte> utf8, string other) =>
            Encoding.UTF8.GetCharCount(utf8) == other.Length && Encoding.UTF8.GetString(utf8) == other;

        private static int Hash(ReadOnlySpan<byte> utf8)
        {
            var hash = default(HashCode);
            hash.AddBytes(utf8);
            return hash.ToHashCode();
        }
    }
}

/// <summary>
/// A name the reader interned, with a slot for its caller's per-name state (the detector keeps each service's there).
/// Beyond <see cref="EventFieldsReader.MaxInternedNames"/> names a new one is made per event, with an empty slot.
/// </summary>
public sealed class InternedName(string value)
{
    public string Value { get; } = value;

    public object? State { get; set; }
}

/// <summary>
/// The plain RFC 3339 form, YYYY-MM-DDTHH:MM:SS[.fraction of 1 to 7 digits](Z|+HH:MM|-HH:MM), read to UTC ticks
/// exactly as <see cref="EventParser.TryParseTimestamp"/> reads it; anything else is left to that method.
/// </summary>
public static class Rfc3339
{
    public static bool TryParseUtcTicks(ReadOnlySpan<byte> s, out long ticks)
    {
        var day = default(Day);
        return TryParseUtcTicks(s, ref day, out ticks);
    }

    /// <summary>
    /// <see cref="TryParseUtcTicks(ReadOnlySpan{byte}, out long)"/>, reusing the date read last when this one has the
    /// same (a stream's timestamps share a date for a day): the date's checks and ticks are taken from <paramref name="day"/>.
    /// </summary>
    public static bool TryParseUtcTicks(ReadOnlySpan<byte> s, ref Day day, out long ticks)
    {
        ticks = 0;
        if (s.Length < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        {
            return false;
        }

        var head = MemoryMarshal.Read<ulong>(s);
        var tail = MemoryMarshal.Read<ushort>(s[8..]);
        if (!day.Known || head != day.Head || tail != day.Tail)
        {
            if (!Digits(s[..4], out var year) || !Digits(s.Slice(5, 2), out var month) || !Digits(s.Slice(8, 2), out var date)
                || year < 1 || month is < 1 or > 12 || date < 1 || date > DateTime.DaysInMonth(year, month))
            {
                return false;
            }

            day = new Day(head, tail, new DateTime(year, month, date, 0, 0, 0, DateTimeKind.Unspecified).Ticks);
        }

        if (!Digits(s.Slice(11, 2), out var hour) || !Digits(s.Slice(14, 2), out var minute) || !Digits(s.Slice(17, 2), out var second)
            || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        var i = 19;
        long fraction = 0;
        if (s[i] == '.')
        {
            var digits = 0;
            for (i++; i < s.Length && (uint)(s[i] - '0') <= 9; i++, digits++)
            {
                if (digits == 7)
                {
                    return false;
                }

                fraction = (fraction * 10) + (s[i] - '0');
            }

            if (digits == 0)
            {
                return false;
            }

            for (; digits < 7; digits++)
            {
                fraction *= 10;
            }
        }

        long offsetTicks;
        var rest = s[i..];
        if (rest.Length == 1 && rest[0] == 'Z')
        {
            offsetTicks = 0;
        }
        else if (rest.Length == 6 && rest[0] is (byte)'+' or (byte)'-' && rest[3] == ':'
                 && Digits(rest.Slice(1, 2), out var oh) && Digits(rest.Slice(4, 2), out var om) && oh <= 14 && om <= 59 && (oh < 14 || om == 0))
        {
            offsetTicks = ((oh * 60L) + om) * TimeSpan.TicksPerMinute * (rest[0] == '-' ? -1 : 1);
        }
        else
        {
            return false;
        }

        var local = day.Ticks + (hour * TimeSpan.TicksPerHour) + (minute * TimeSpan.TicksPerMinute) + (second * TimeSpan.TicksPerSecond) + fraction;
        var utc = local - offsetTicks;
        if (utc < DateTime.MinValue.Ticks || utc > DateTime.MaxValue.Ticks)
        {
            return false;
        }

        ticks = utc;
        return true;
    }

    /// <summary>A date read and checked before: its 10 bytes (YYYY-MM-DD) and the ticks of its midnight; only the parser makes one.</summary>
    public readonly struct Day
    {
        internal Day(ulong head, ushort tail, long ticks) => (Head, Tail, Ticks, Known) = (head, tail, ticks, true);

        internal ulong Head { get; }

        internal ushort Tail { get; }

        internal long Ticks { get; }

        internal bool Known { get; }
    }

    private static bool Digits(ReadOnlySpan<byte> s, out int value)
    {
        value = 0;
        foreach (var c in s)
        {
            if ((uint)(c - '0') > 9)
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return true;
    }
}
