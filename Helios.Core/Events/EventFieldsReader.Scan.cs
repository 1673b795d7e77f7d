using System.Buffers;
using System.Buffers.Text;

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
    internal bool TryScan(ReadOnlySpan<byte> json, out EventFields evt) => TryScan(json, null, out evt, out _);

    /// <summary>
    /// <see cref="TryScan(ReadOnlySpan{byte}, out EventFields)"/>, and with an <paramref name="arena"/> the text storage
    /// keeps, as the token pass appends it (a message or id with an escape is left to that pass, which unescapes it). On
    /// false, what was appended is the caller's to truncate.
    /// </summary>
    internal bool TryScan(ReadOnlySpan<byte> json, Utf8Arena? arena, out EventFields evt, out EventTextRange text)
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
            if (!PlainString(json, ref i, out var name) || !Colon(json, ref i))
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
                    if (!PlainString(json, ref i, out var time) || !Rfc3339.TryParseUtcTicks(time, out ticks))
                    {
                        return false;
                    }

                    break;
                case Service:
                    if (!PlainString(json, ref i, out var serviceText) || (service = ServiceName(serviceText)) is null || string.IsNullOrWhiteSpace(service))
                    {
                        return false;
                    }

                    break;
                case Level:
                    if (!PlainString(json, ref i, out var levelText) || (level = LevelOf(levelText)) is null)
                    {
                        return false;
                    }

                    break;
                case Metadata:
                    var start = i;
                    if (At(json, i, (byte)'{') ? !ScanMetadata(json, ref i, ref latency, ref endpoint) : !Literal(json, ref i, "null"u8))
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
                    if (!PlainString(json, ref i, out var value))
                    {
                        return false;
                    }

                    var range = arena.Append(value);
                    message = field == Message ? range : message;
                    traceId = field == TraceId ? range : traceId;
                    spanId = field == SpanId ? range : spanId;
                    break;
                case Message or TraceId or SpanId:
                    if (At(json, i, (byte)'"') ? !SkipString(json, ref i) : !Literal(json, ref i, "null"u8))
                    {
                        return false;
                    }

                    break;
                case Time:
                    return false;
                default:
                    if (!SkipValue(json, ref i, 1))
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

    private bool ScanMetadata(ReadOnlySpan<byte> json, ref int i, ref double latency, ref string? endpoint)
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
            if (!PlainString(json, ref i, out var name) || !Colon(json, ref i))
            {
                return false;
            }

            var field = name.SequenceEqual("latency_ms"u8) ? 1 : name.SequenceEqual("endpoint"u8) ? 2 : 0;
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

                // As Utf8JsonReader.TryGetDouble reads a number token: the 'e' format only when it has an exponent.
                var number = json[start..i];
                if (Utf8Parser.TryParse(number, out double value, out var consumed, exponent ? 'e' : default) && consumed == number.Length
                    && double.IsFinite(value) && value > 0)
                {
                    latency = value;
                }
            }
            else if (field == 2 && At(json, i, (byte)'"'))
            {
                if (!PlainString(json, ref i, out var text) || (endpoint = Name(text, 1024)) is null)
                {
                    return false;
                }
            }
            else if (!SkipValue(json, ref i, 2))
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

    /// <summary>Skips one JSON value of any kind at <paramref name="depth"/> (the object or array holding it).</summary>
    private static bool SkipValue(ReadOnlySpan<byte> json, ref int i, int depth)
    {
        if (i >= json.Length)
        {
            return false;
        }

        switch (json[i])
        {
            case (byte)'"':
                return SkipString(json, ref i);
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
                    if (close == '}' && (!SkipString(json, ref i) || !Colon(json, ref i)))
                    {
                        return false;
                    }

                    if (!SkipValue(json, ref i, depth + 1) || !Next(json, ref i, close, out var done))
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
    private static bool PlainString(ReadOnlySpan<byte> json, ref int i, out ReadOnlySpan<byte> value)
    {
        value = default;
        if (!At(json, i, (byte)'"'))
        {
            return false;
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
    private static bool SkipString(ReadOnlySpan<byte> json, ref int i)
    {
        if (!At(json, i, (byte)'"'))
        {
            return false;
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
