using System.Text;
using System.Text.Unicode;
using Helios.Core.Events;

namespace Helios.Core.Tests.Events;

/// <summary>
/// The byte scanner that <see cref="EventFieldsReader.TryRead"/> tries first: it takes the plain forms itself, and
/// whatever it accepts, the token pass (<see cref="EventFieldsReader.TryReadRow"/>) and <see cref="EventParser"/>
/// accept with the same values.
/// </summary>
public sealed class EventScannerTests
{
    private const string Typical =
        """{"timestamp":"2026-03-02T08:00:01.250Z","service":"payment-service","level":"ERROR","message":"POST /pay -> 503","metadata":{"latency_ms":812.5,"endpoint":"/pay","http_method":"POST","status_code":503},"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}""";

    [Theory]
    [InlineData(Typical)]
    [InlineData("""  {"timestamp":"2026-03-02T08:00:01.1234567-05:30","service":"ünïcode-svc","level":"WARNING","metadata":null,"message":null}  """)]
    [InlineData("""{"service":"a","level":"DEBUG","timestamp":"2024-02-29T23:59:59Z","metadata":{"latency_ms":1.5e2,"endpoint":"/x","tags":[1,-2.5E-3,true,false,null,{"k":[[]]}]}}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"ERROR","message":"say \"hi\"\n\u00e9\\","extra":{"\u0041":"x"}}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","metadata":{"latency_ms":"12","endpoint":7}}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","metadata":{"latency_ms":1e999}}""")]
    public void PlainForms_AreScannedWithTheTokenPassValues(string json)
    {
        var reader = new EventFieldsReader();
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.True(reader.TryScan(bytes, out var scanned));
        Assert.True(EventFieldsReaderTests.TryReadTokens(reader, bytes, out var tokens, out var tokenText));
        Assert.Equal(tokens, scanned);
        if (EventFieldsReaderTests.TryScanRow(reader, bytes, out var scannedRow, out var scannedText))
        {
            // With the text storage keeps: the same fields and text (a message with an escape is left to the token pass).
            Assert.Equal(tokens, scannedRow);
            Assert.Equal(tokenText, scannedText);
        }
        else
        {
            Assert.Contains('\\', json);
        }
        Assert.True(EventParser.TryParse(bytes, out var full, out _));
        Assert.Equal(EventFields.From(full!), scanned);
    }

    /// <summary>Valid forms the scanner leaves to the token pass (which reads deep nesting and escaped surrogates, and leaves escaped names to the parser).</summary>
    [Theory]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a\u0062","level":"INFO"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","message":"\ud83d\ude00"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","x":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","metadata":{"endp\u006fint":"/x"}}""")]
    public void UnusualButValid_LeftToTheTokenPass(string json)
    {
        var reader = new EventFieldsReader();
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.False(reader.TryScan(bytes, out _));
        Assert.True(EventParser.TryParse(bytes, out var full, out _));
        if (reader.TryRead(bytes, out var read))
        {
            Assert.Equal(EventFields.From(full!), read);
        }
    }

    /// <summary>Invalid JSON in every part the scanner skips or reads: refused.</summary>
    [Theory]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","n":01}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","n":1.}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","n":-}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","n":1e}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","n":tru}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","n":nullx}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","s":"bad \x escape"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","s":"\u12G4"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","a":[1,]}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","o":{"k" 1}}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","metadata":{"latency_ms":5,}}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO"}x""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO" """)]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","s":"tab	inside"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","c":1 /* comment */}""")]
    public void InvalidJson_IsRefused(string json)
    {
        var reader = new EventFieldsReader();
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.False(reader.TryScan(bytes, out _));
        Assert.False(EventParser.TryParse(bytes, out _, out _));
    }

    /// <summary>
    /// Random corruptions of a rich event (nested metadata, numbers with exponents, escapes): whenever the scanner
    /// says yes, the token pass and the parser say yes with the same values.
    /// </summary>
    [Fact]
    public void Mutations_TheScannerNeverAcceptsWhatTheTokenPassOrTheParserRejectsOrReadsDifferently()
    {
        const string rich = """
            {"timestamp":"2026-03-02T08:00:01.5+01:00","service":"checkout","level":"CRITICAL","message":"a \"quoted\" \\ line\n",
             "metadata":{"latency_ms":12.5e1,"endpoint":"/cart","latency_ms_p":1e3,"nested":{"a":[1,2.5,-3e-2,true,null,"s\t"],"b":{}},
             "status_code":503},"trace_id":null,"span_id":"00f067aa0ba902b7","other":[{"x":false}]}
            """;
        var reader = new EventFieldsReader();
        var original = Encoding.UTF8.GetBytes(rich);
        Assert.True(reader.TryScan(original, out var baseline));
        Assert.Equal(125, baseline.LatencyMs);
        int scanned = 0, refused = 0, rows = 0;
        foreach (var payload in EventFieldsReaderTests.Mutations(original, "{}[]\":,.-+0123456789eE \t\n\\u00dD8fnrtlasx_", seed: 12, count: 20_000))
        {
            // Indexed (a plain event's quotes found at once) or not, the scanner says the same.
            var indexed = reader.TryScan(payload, out var byIndex, indexed: true);
            Assert.Equal(indexed, reader.TryScan(payload, out var bySearch, indexed: false));
            Assert.Equal(bySearch, byIndex);
            if (Utf8.IsValid(payload) && reader.TryScan(payload, out var fast))
            {
                scanned++;
                Assert.True(EventFieldsReaderTests.TryReadTokens(reader, payload, out var tokens, out var tokenText), Encoding.UTF8.GetString(payload));
                Assert.Equal(tokens, fast);
                if (EventFieldsReaderTests.TryScanRow(reader, payload, out var fastRow, out var fastText))
                {
                    rows++;
                    Assert.Equal(tokens, fastRow);
                    Assert.Equal(tokenText, fastText);
                }
                Assert.True(EventParser.TryParse(payload, out var full, out _), Encoding.UTF8.GetString(payload));
                Assert.Equal(EventFields.From(full!), fast);
            }
            else
            {
                refused++;
            }
        }

        Assert.InRange(scanned, 1_000, 19_000);
        Assert.True(rows > 200, $"{rows} scanned with their text"); // the rich message has escapes, which the scanner leaves to the token pass when it keeps text
        Assert.True(refused > 1_000);
    }

    /// <summary>
    /// Random corruptions of a plain event (no escape anywhere, so its quotes are indexed): the scanner with the index and
    /// without it accept the same and read the same, and whatever it accepts the parser accepts with the same values.
    /// </summary>
    [Fact]
    public void PlainMutations_TheIndexedScanReadsAsTheSearchingScan()
    {
        var reader = new EventFieldsReader();
        var original = Encoding.UTF8.GetBytes(Typical);
        int plain = 0, scanned = 0;
        foreach (var payload in EventFieldsReaderTests.Mutations(original, "{}[]\":,.-+0123456789eE tnrfalsux_", seed: 5, count: 20_000))
        {
            plain += QuoteIndex.TryBuild(payload, new ulong[QuoteIndex.Words(payload.Length)]) ? 1 : 0;
            var indexed = reader.TryScan(payload, out var byIndex, indexed: true);
            Assert.Equal(indexed, reader.TryScan(payload, out var bySearch, indexed: false));
            Assert.Equal(bySearch, byIndex);
            if (indexed)
            {
                scanned++;
                Assert.True(EventParser.TryParse(payload, out var full, out _), Encoding.UTF8.GetString(payload));
                Assert.Equal(EventFields.From(full!), byIndex);
            }
        }

        Assert.True(plain > 19_000, $"{plain} plain");
        Assert.InRange(scanned, 1_000, 19_000);
    }

    /// <summary>Every quote of a plain event is found, wherever it falls against the vector blocks and the index's words; anything not plain is no index.</summary>
    [Fact]
    public void QuoteIndex_FindsEveryQuoteOfPlainText_AndRefusesAnyOtherByteAnywhere()
    {
        var rng = new Random(7);
        for (var length = 1; length <= 300; length++)
        {
            var text = new byte[length];
            for (var i = 0; i < length; i++)
            {
                var c = (byte)rng.Next(' ', '~' + 1);
                text[i] = rng.Next(4) == 0 ? (byte)'"' : c == '\\' ? (byte)'x' : c;
            }

            var quotes = new ulong[QuoteIndex.Words(length)];
            Assert.True(QuoteIndex.TryBuild(text, quotes));
            var expected = Enumerable.Range(0, length).Where(i => text[i] == '"').ToList();
            var found = new List<int>();
            for (var at = QuoteIndex.Next(quotes, 0); at >= 0; at = QuoteIndex.Next(quotes, at + 1))
            {
                found.Add(at);
            }

            Assert.Equal(expected, found);
            foreach (var unusual in new byte[] { (byte)'\\', 0, (byte)'\t', (byte)'\n', 0x1F, 0x7F, 0x80, 0xC3, 0xFF })
            {
                var at = rng.Next(length);
                var changed = (byte[])text.Clone();
                changed[at] = unusual;
                Assert.False(QuoteIndex.TryBuild(changed, new ulong[QuoteIndex.Words(length)]), $"byte {unusual:X2} at {at} of {length}");
            }
        }
    }

    /// <summary>Latencies of up to 15 digits, read without the general parser, are the same doubles the parser gives.</summary>
    [Fact]
    public void ShortLatencies_AreTheParsersDoubles()
    {
        var rng = new Random(11);
        var reader = new EventFieldsReader();
        for (var n = 0; n < 20_000; n++)
        {
            var digits = rng.Next(1, 18);
            var number = new char[digits];
            for (var i = 0; i < digits; i++)
            {
                number[i] = (char)('0' + rng.Next(10));
            }

            number[0] = digits > 1 && number[0] == '0' ? '1' : number[0];
            var text = new string(number);
            if (digits > 1 && rng.Next(3) > 0)
            {
                var point = rng.Next(1, digits);
                text = text[..point] + "." + text[point..];
            }

            var json = "{\"timestamp\":\"2026-03-02T08:00:01Z\",\"service\":\"a\",\"level\":\"INFO\",\"metadata\":{\"latency_ms\":" + text + "}}";
            var bytes = Encoding.UTF8.GetBytes(json);
            Assert.True(reader.TryRead(bytes, out var read), json);
            Assert.True(EventParser.TryParse(bytes, out var parsed, out _));
            var expected = double.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
            Assert.Equal(expected > 0 ? expected : double.NaN, read.LatencyMs);
            Assert.Equal(parsed!.LatencyMs, read.LatencyMs);
        }
    }

    /// <summary>A date kept from the timestamp before changes nothing: a run of timestamps (valid, invalid, days apart) reads as each alone.</summary>
    [Fact]
    public void Timestamps_ReadWithTheDateBefore_AreReadAsAlone()
    {
        string[] dates = ["2026-03-02", "2026-03-03", "2024-02-29", "2026-02-29", "2026-02-30", "2026-13-01", "0001-01-01", "9999-12-31", "2026-3-02x"];
        string[] times = ["T00:00:00Z", "T23:59:59.9999999Z", "T12:30:00.5+14:00", "T00:00:00-05:30", "T24:00:00Z", "T10:61:00Z", "T10:00:00.12345678Z", "T10:00:00"];
        var rng = new Random(3);
        var day = default(Rfc3339.Day);
        for (var n = 0; n < 5_000; n++)
        {
            var text = Encoding.ASCII.GetBytes(dates[rng.Next(dates.Length)] + times[rng.Next(times.Length)]);
            var alone = Rfc3339.TryParseUtcTicks(text, out var expected);
            Assert.Equal(alone, Rfc3339.TryParseUtcTicks(text, ref day, out var ticks));
            Assert.Equal(expected, ticks);
        }
    }
}
