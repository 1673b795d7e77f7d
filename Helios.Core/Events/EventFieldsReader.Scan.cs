using System.Buffers;
using System.Buffers.Text;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Helios.Core.Events;

/// <summary>
/// The detector's first try: a byte scanner over the plain event forms, in one pass, that skips strings with a
/// vectorized search instead of tokenizing them. It accepts a strict subset of what the <see cref="System.Text.Json.Utf8JsonReader"/>
/// pass (<c>TryReadCore</c>) accepts, with the same values: no escape in any name or in a value it reads, no
/// escaped surrogate anywhere, nesting up to 32 levels. Whatever it is unsure of goes on to that pass, and from
/// there to <see cref="EventParser"/>; tests compare it with both.
/// </summary>
public sealed partial class EventFieldsReader
{
    private const int MaxScanDepth = 32;

    /// <summary>Where a string's plain run ends: its closing quote, an escape, or a control character (invalid in JSON).</summary>
    private static readonly SearchValues<byte> StringStops = SearchValues.Create(
        [(byte)'"', (byte)'\\', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);

    /// <summary>The event's fields when it is in a plain form; false when unsure (not: invalid). UTF-8 validity is the caller's.</summary>
    internal bool TryScan(ReadOnlySpan<byte> json, out EventFields evt, bool indexed = true) => TryScan(json, null, out evt, out _, indexed);

    /// <summary>
    /// <see cref="TryScan(ReadOnlySpan{byte}, out EventFields, bool)"/>, and with an <paramref name="arena"/> the text storage
    /// keeps, as the token pass appends it (a message or id with an escape is left to that pass, which unescapes it). On
    /// false, what was appended is the caller's to truncate. <paramref name="indexed"/> false: strings are searched one by
    /// one even when the event is plain (the tests compare the two ways).
    /// </summary>
    internal bool TryScan(ReadOnlySpan<byte> json, Utf8Arena? arena, out EventFields evt, out EventTextRange text, bool indexed = true)
    {
        Span<ulong> quotes = indexed && json.Length <= QuoteIndex.MaxBytes ? stackalloc ulong[QuoteIndex.Words(json.Length)] : default;
        return TryScan(json, QuoteIndex.TryBuild(json, quotes) ? quotes : default, arena, out evt, out text);
    }

    /// <summary>The scan, with the event's <paramref name="quotes"/> when it is plain (<see cref="QuoteIndex"/>), else empty.</summary>
    private bool TryScan(ReadOnlySpan<byte> json, ReadOnlySpan<ulong> quotes, Utf8Arena? arena, out EventFields evt, out EventTextRange text)
    {
        evt = default;
        text = default;
        Utf8Range message = Utf8Range.None, traceId = Utf8Range.None, spanId = Utf8Range.None, metadata = Utf8Range.None;
        var i = Whitespace(json, 0);
        if (!At(json, i, (byte)'{'))
        {
            return false;
        }

        long ticks = 0;
        string? service = null;
        EventLevel? level = null;
        var latency = double.NaN;
        string? endpoint = null;
        var seen = 0;
        i = Whitespace(json, i + 1);
        if (At(json, i, (byte)'}'))
        {
            return false;
        }

        while (true)
        {
            if (!PlainString(json, quotes, ref i, out var name) || !Colon(json, ref i))
            {
                return false;
            }

            var field = Field(name);
            if (field != 0 && (seen & field) != 0)
            {
                return false;
            }

            seen |= field;
            switch (field)
            {
                case Timestamp:
                    if (!PlainString(json, quotes, ref i, out var time) || !Rfc3339.TryParseUtcTicks(time, ref _day, out ticks))
                    {
                        return false;
                    }

                    break;
                case Service:
                    if (!PlainString(json, quotes, ref i, out var serviceText) || (service = ServiceName(serviceText)) is null || string.IsNullOrWhiteSpace(service))
                    {
                        return false;
                    }

                    break;
                case Level:
                    if (!PlainString(json, quotes, ref i, out var levelText) || (level = LevelOf(levelText)) is null)
                    {
                        return false;
                    }

                    break;
                case Metadata:
                    var start = i;
                    if (At(json, i, (byte)'{') ? !ScanMetadata(json, quotes, ref i, ref latency, ref endpoint) : !Literal(json, ref i, "null"u8))
                    {
                        return false;
                    }

                    if (arena is not null && json[start] == '{')
                    {
                        // The object's own bytes, as JsonElement.GetRawText returns them.
                        metadata = arena.Append(json[start..i]);
                    }

                    break;
                case Message or TraceId or SpanId when arena is not null && At(json, i, (byte)'"'):
                    if (!PlainString(json, quotes, ref i, out var value))
                    {
                        return false;
                    }

                    var range = arena.Append(value);
                    message = field == Message ? range : message;
                    traceId = field == TraceId ? range : traceId;
                    spanId = field == SpanId ? range : spanId;
                    break;
                case Message or TraceId or SpanId:
                    if (At(json, i, (byte)'"') ? !SkipString(json, quotes, ref i) : !Literal(json, ref i, "null"u8))
                    {
                        return false;
                    }

                    break;
                case Time:
                    return false;
                default:
                    if (!SkipValue(json, quotes, ref i, 1))
                    {
                        return false;
                    }

                    break;
            }

            if (!Next(json, ref i, (byte)'}', out var done))
            {
                return false;
            }

            if (done)
            {
                break;
            }
        }

        if (Whitespace(json, i) != json.Length || service is null || level is null || (seen & Timestamp) == 0)
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

    private bool ScanMetadata(ReadOnlySpan<byte> json, ReadOnlySpan<ulong> quotes, ref int i, ref double latency, ref string? endpoint)
    {
        i = Whitespace(json, i + 1);
        if (At(json, i, (byte)'}'))
        {
            i++;
            return true;
        }

        var seen = 0;
        while (true)
        {
            if (!PlainString(json, quotes, ref i, out var name) || !Colon(json, ref i))
            {
                return false;
            }

            var field = name.Length switch
            {
                10 when name.SequenceEqual("latency_ms"u8) => 1,
                8 when name.SequenceEqual("endpoint"u8) => 2,
                _ => 0,
            };
            if (field != 0 && (seen & field) != 0)
            {
                return false;
            }

            seen |= field;
            if (field == 1 && i < json.Length && (json[i] == '-' || IsDigit(json[i])))
            {
                var start = i;
                if (!SkipNumber(json, ref i, out var exponent))
                {
                    return false;
                }

                // As Utf8JsonReader.TryGetDouble reads a number token: the 'e' format only when it has an exponent. A negative
                // number is never a latency, and a short plain one is read exactly without the general parser.
                var number = json[start..i];
                if (number[0] != '-' && (!exponent && TryShortDecimal(number, out var value)
                        || Utf8Parser.TryParse(number, out value, out var consumed, exponent ? 'e' : default) && consumed == number.Length)
                    && double.IsFinite(value) && value > 0)
                {
                    latency = value;
                }
            }
            else if (field == 2 && At(json, i, (byte)'"'))
            {
                if (!PlainString(json, quotes, ref i, out var text) || (endpoint = Name(text, 1024)) is null)
                {
                    return false;
                }
            }
            else if (!SkipValue(json, quotes, ref i, 2))
            {
                return false;
            }

            if (!Next(json, ref i, (byte)'}', out var done))
            {
                return false;
            }

            if (done)
            {
                return true;
            }
        }
    }

    /// <summary>Exact powers of ten (a double holds each one exactly up to 10^22).</summary>
    private static readonly double[] PowersOfTen = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

    /// <summary>
    /// A valid JSON number of digits with an optional fraction and at most 15 digits in all, as the correctly rounded
    /// double the general parser gives: the digits as an integer below 2^53 and a power of ten up to 10^15 are both exact,
    /// so their quotient rounds once, to the nearest double of the decimal value (Clinger's fast path). False otherwise.
    /// </summary>
    private static bool TryShortDecimal(ReadOnlySpan<byte> number, out double value)
    {
        value = 0;
        long digits = 0;
        int count = 0, point = -1;
        foreach (var c in number)
        {
            if (c == '.')
            {
                point = count;
            }
            else if (++count > 15)
            {
                return false;
            }
            else
            {
                digits = (digits * 10) + (c - '0');
            }
        }

        value = point < 0 ? digits : digits / PowersOfTen[count - point];
        return true;
    }

    /// <summary>Skips one JSON value of any kind at <paramref name="depth"/> (the object or array holding it).</summary>
    private static bool SkipValue(ReadOnlySpan<byte> json, ReadOnlySpan<ulong> quotes, ref int i, int depth)
    {
        if (i >= json.Length)
        {
            return false;
        }

        switch (json[i])
        {
            case (byte)'"':
                return SkipString(json, quotes, ref i);
            case (byte)'t':
                return Literal(json, ref i, "true"u8);
            case (byte)'f':
                return Literal(json, ref i, "false"u8);
            case (byte)'n':
                return Literal(json, ref i, "null"u8);
            case (byte)'{' or (byte)'[':
                var close = json[i] == '{' ? (byte)'}' : (byte)']';
                if (depth + 1 > MaxScanDepth)
                {
                    return false;
                }

                i = Whitespace(json, i + 1);
                if (At(json, i, close))
                {
                    i++;
                    return true;
                }

                while (true)
                {
                    if (close == '}' && (!SkipString(json, quotes, ref i) || !Colon(json, ref i)))
                    {
                        return false;
                    }

                    if (!SkipValue(json, quotes, ref i, depth + 1) || !Next(json, ref i, close, out var done))
                    {
                        return false;
                    }

                    if (done)
                    {
                        return true;
                    }
                }

            default:
                return SkipNumber(json, ref i, out _);
        }
    }

    /// <summary>A string with no escape: its content, and <paramref name="i"/> past its closing quote.</summary>
    private static bool PlainString(ReadOnlySpan<byte> json, ReadOnlySpan<ulong> quotes, ref int i, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (!At(json, i, (byte)'"'))
        {
            return false;
        }

        if (!quotes.IsEmpty)
        {
            // A plain event (see QuoteIndex): the next quote closes the string.
            var close = QuoteIndex.Next(quotes, i + 1);
            if (close < 0)
            {
                return false;
            }

            value = json[(i + 1)..close];
            i = close + 1;
            return true;
        }

        var end = json[(i + 1)..].IndexOfAny(StringStops);
        if (end < 0 || json[i + 1 + end] != '"')
        {
            return false;
        }

        value = json.Slice(i + 1, end);
        i += end + 2;
        return true;
    }

    /// <summary>Any valid string (escapes checked, escaped surrogates refused as unsure), <paramref name="i"/> past it.</summary>
    private static bool SkipString(ReadOnlySpan<byte> json, ReadOnlySpan<ulong> quotes, ref int i)
    {
        if (!At(json, i, (byte)'"'))
        {
            return false;
        }

        if (!quotes.IsEmpty)
        {
            var close = QuoteIndex.Next(quotes, i + 1);
            i = close + 1;
            return close >= 0;
        }

        i++;
        while (true)
        {
            var stop = i < json.Length ? json[i..].IndexOfAny(StringStops) : -1;
            if (stop < 0)
            {
                return false;
            }

            i += stop;
            switch (json[i])
            {
                case (byte)'"':
                    i++;
                    return true;
                case (byte)'\\' when i + 1 < json.Length:
                    var escaped = json[i + 1];
                    if (escaped is (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t')
                    {
                        i += 2;
                        continue;
                    }

                    if (escaped != 'u' || i + 6 > json.Length || !Utf8Parser.TryParse(json.Slice(i + 2, 4), out ushort unit, out var read, 'X') || read != 4
                        || unit is >= 0xD800 and <= 0xDFFF)
                    {
                        return false;
                    }

                    i += 6;
                    continue;
                default:
                    // A control character, or a backslash at the very end.
                    return false;
            }
        }
    }

    /// <summary>A number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?</summary>
    private static bool SkipNumber(ReadOnlySpan<byte> json, ref int i, out bool exponent)
    {
        exponent = false;
        if (At(json, i, (byte)'-'))
        {
            i++;
        }

        if (At(json, i, (byte)'0'))
        {
            i++;
        }
        else if (!Digits(json, ref i))
        {
            return false;
        }

        if (At(json, i, (byte)'.'))
        {
            i++;
            if (!Digits(json, ref i))
            {
                return false;
            }
        }

        if (At(json, i, (byte)'e') || At(json, i, (byte)'E'))
        {
            exponent = true;
            i++;
            if (At(json, i, (byte)'+') || At(json, i, (byte)'-'))
            {
                i++;
            }

            if (!Digits(json, ref i))
            {
                return false;
            }
        }

        return true;
    }

    private static bool Digits(ReadOnlySpan<byte> json, ref int i)
    {
        var start = i;
        while (i < json.Length && IsDigit(json[i]))
        {
            i++;
        }

        return i > start;
    }

    private static bool Literal(ReadOnlySpan<byte> json, ref int i, ReadOnlySpan<byte> literal)
    {
        if (!json[i..].StartsWith(literal))
        {
            return false;
        }

        i += literal.Length;
        return true;
    }

    /// <summary>Whitespace, a colon, whitespace.</summary>
    private static bool Colon(ReadOnlySpan<byte> json, ref int i)
    {
        i = Whitespace(json, i);
        if (!At(json, i, (byte)':'))
        {
            return false;
        }

        i = Whitespace(json, i + 1);
        return true;
    }

    /// <summary>After a value: a comma (then whitespace; <paramref name="done"/> false) or the closing bracket (<paramref name="done"/> true).</summary>
    private static bool Next(ReadOnlySpan<byte> json, ref int i, byte close, out bool done)
    {
        i = Whitespace(json, i);
        done = At(json, i, close);
        if (done)
        {
            i++;
            return true;
        }

        if (!At(json, i, (byte)','))
        {
            return false;
        }

        i = Whitespace(json, i + 1);
        return true;
    }

    private static int Whitespace(ReadOnlySpan<byte> json, int i)
    {
        while (i < json.Length && json[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')
        {
            i++;
        }

        return i;
    }

    private static bool At(ReadOnlySpan<byte> json, int i, byte c) => (uint)i < (uint)json.Length && json[i] == c;

    private static bool IsDigit(byte c) => (uint)(c - '0') <= 9;
}

/// <summary>
/// Where an event's quotes are, found in one vectorized pass when the event is plain: ASCII (so valid UTF-8) with no
/// backslash and no control character anywhere. Then no string holds an escape or anything JSON forbids, each quote
/// opens or closes one, and the scanner finds a string's end by a bit search instead of a search of the bytes (which
/// cost about 8 ns a string here, some 40 of them an event). Bit n of word n / 64 is set when byte n is a quote.
/// </summary>
internal static class QuoteIndex
{
    /// <summary>Longer events are scanned without an index (the stack holds a word per 64 bytes).</summary>
    public const int MaxBytes = 4096;

    public static int Words(int bytes) => (bytes + 63) >> 6;

    /// <summary>Fills <paramref name="quotes"/> (zeroed, <see cref="Words"/> long) and returns true when the event is plain; false otherwise or when empty.</summary>
    public static bool TryBuild(ReadOnlySpan<byte> json, Span<ulong> quotes)
    {
        if (quotes.IsEmpty || quotes.Length != Words(json.Length))
        {
            return false;
        }

        if (!Vector256.IsHardwareAccelerated || json.Length < Vector256<byte>.Count)
        {
            return TryBuildScalar(json, quotes);
        }

        ref var start = ref MemoryMarshal.GetReference(json);
        var quote = Vector256.Create((byte)'"');
        var backslash = Vector256.Create((byte)'\\');
        var space = Vector256.Create((byte)' ');
        var printable = Vector256.Create((byte)('~' + 1 - ' '));
        var unusual = Vector256<byte>.Zero;
        var last = json.Length - Vector256<byte>.Count;
        for (var i = 0; ; i += Vector256<byte>.Count)
        {
            // The last block overlaps the one before; its bits already set stay as they are.
            var at = Math.Min(i, last);
            var block = Vector256.LoadUnsafe(ref start, (nuint)at);
            // Bytes outside ' '..'~' (controls, DEL and everything non-ASCII) wrap around to at least 95 past the space.
            unusual |= Vector256.GreaterThanOrEqual(block - space, printable) | Vector256.Equals(block, backslash);
            quotes[at >> 6] |= (ulong)Vector256.Equals(block, quote).ExtractMostSignificantBits() << (at & 63);
            if ((at & 63) > 32)
            {
                // A block that straddles two words (only the overlapping last one can).
                quotes[(at >> 6) + 1] |= (ulong)Vector256.Equals(block, quote).ExtractMostSignificantBits() >> (64 - (at & 63));
            }

            if (at == last)
            {
                break;
            }
        }

        return unusual == Vector256<byte>.Zero;
    }

    private static bool TryBuildScalar(ReadOnlySpan<byte> json, Span<ulong> quotes)
    {
        for (var i = 0; i < json.Length; i++)
        {
            var c = json[i];
            if (c is < (byte)' ' or > (byte)'~' or (byte)'\\')
            {
                return false;
            }

            if (c == '"')
            {
                quotes[i >> 6] |= 1UL << (i & 63);
            }
        }

        return true;
    }

    /// <summary>The position of the first quote at or after <paramref name="from"/>, or -1.</summary>
    public static int Next(ReadOnlySpan<ulong> quotes, int from)
    {
        var word = from >> 6;
        if ((uint)word >= (uint)quotes.Length)
        {
            return -1;
        }

        var bits = quotes[word] & (ulong.MaxValue << (from & 63));
        while (bits == 0)
        {
            if (++word == quotes.Length)
            {
                return -1;
            }

            bits = quotes[word];
        }

        return (word << 6) + BitOperations.TrailingZeroCount(bits);
    }
}
