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
}
