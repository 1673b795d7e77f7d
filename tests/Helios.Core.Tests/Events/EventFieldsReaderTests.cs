using System.Text;
using Helios.Core.Events;

namespace Helios.Core.Tests.Events;

public sealed class EventFieldsReaderTests
{
    private const string Typical =
        """{"timestamp":"2026-03-02T08:00:01.250Z","service":"svc-00042","level":"ERROR","message":"upstream failed","metadata":{"latency_ms":412.5,"endpoint":"/api/v1/orders","http_method":"GET","status_code":503,"extra":{"a":[1,2]}},"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}""";

    [Fact]
    public void TypicalEvent_IsReadWithTheParsersValues()
    {
        var reader = new EventFieldsReader();
        Assert.True(reader.TryRead(Encoding.UTF8.GetBytes(Typical), out var fast));
        Assert.True(EventParser.TryParse(Encoding.UTF8.GetBytes(Typical), out var full, out _));
        Assert.Equal(EventFields.From(full!), fast);
        Assert.Equal(EventLevel.Error, fast.Level);
        Assert.Equal(412.5, fast.LatencyMs);
    }

    [Theory]
    [InlineData(Typical)]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","message":null,"trace_id":null,"metadata":null}""")]
    [InlineData("""{"message":"line\nbreak \u00e9 \"quoted\"","timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","span_id":"s1","metadata":{ "endpoint" : "/x", "deep": {"k": [1, "\u00e9"]} }}""")]
    public void Row_HasTheParsersMessageIdsAndMetadataText(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.True(TryReadRow(new EventFieldsReader(), bytes, out var fast, out var text));
        Assert.True(EventParser.TryParse(bytes, out var full, out _));
        Assert.Equal(EventFields.From(full!), fast);
        Assert.Equal(TextOf(full!), text);
    }

    [Fact]
    public void NonAsciiNames_AreInternedByTheirBytesAndNeverConfused()
    {
        var reader = new EventFieldsReader();
        string Read(string service)
        {
            var json = $$"""{"timestamp":"2026-03-02T08:00:01Z","service":"{{service}}","level":"INFO"}""";
            Assert.True(reader.TryRead(Encoding.UTF8.GetBytes(json), out var evt));
            return evt.Service;
        }

        var accented = Read("café-svc");
        Assert.Equal("café-svc", accented);
        Assert.Same(accented, Read("café-svc"));
        Assert.Equal("cafÃ©-svc", Read("cafÃ©-svc")); // the bytes of é read as Latin-1: another name
        Assert.Equal("svc-😀", Read("svc-😀"));
        Assert.Same(Read("svc-😀"), Read("svc-😀"));
    }

    [Fact]
    public void SameServiceTwice_IsTheSameString()
    {
        var reader = new EventFieldsReader();
        reader.TryRead(Encoding.UTF8.GetBytes(Typical), out var a);
        reader.TryRead(Encoding.UTF8.GetBytes(Typical), out var b);
        Assert.Same(a.Service, b.Service);
        Assert.Same(a.Endpoint, b.Endpoint);
    }

    /// <summary>
    /// The detector keeps each service's state on its interned name: every read of one service, by the scanner or the
    /// token pass (an escaped surrogate pair in the message sends an event there), must give the same entry with its state, another service
    /// another entry, and a refused event none.
    /// </summary>
    [Fact]
    public void ServiceName_IsOneEntryPerServiceWhoseStateStays()
    {
        var reader = new EventFieldsReader();
        Assert.True(reader.TryRead(Encoding.UTF8.GetBytes(Typical), out var first, out var name));
        Assert.Same(first.Service, name.Value);
        name.State = "state of svc-00042";

        var escaped = Typical.Replace("upstream failed", "upstream \\ud83d\\ude00", StringComparison.Ordinal);
        Assert.False(reader.TryScan(Encoding.UTF8.GetBytes(escaped), out _));
        Assert.True(reader.TryRead(Encoding.UTF8.GetBytes(escaped), out _, out var again));
        Assert.Same(name, again);
        Assert.Equal("state of svc-00042", again.State);

        Assert.True(reader.TryRead(Encoding.UTF8.GetBytes(Typical.Replace("svc-00042", "svc-00043", StringComparison.Ordinal)), out _, out var other));
        Assert.NotSame(name, other);
        Assert.Null(other.State);

        Assert.False(reader.TryRead(Encoding.UTF8.GetBytes(Typical.Replace("\"level\":\"ERROR\"", "\"level\":\"LOUD\"", StringComparison.Ordinal)), out _, out var refused));
        Assert.Null(refused);
    }

    [Theory]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01+02:00","service":"a","level":"INFO"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01.1234567-05:30","service":"a","level":"WARNING","metadata":null,"message":null}""")]
    [InlineData("""{"service":"a","level":"DEBUG","timestamp":"2024-02-29T23:59:59Z","metadata":{"latency_ms":-3,"endpoint":"/x"}}""")]
    [InlineData("""  {"timestamp":"2026-03-02T08:00:01Z","service":"ünïcode-svc","level":"CRITICAL","metadata":{"latency_ms":"12"}}  """)]
    public void PlainForms_AreReadLikeTheParser(string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        Assert.True(new EventFieldsReader().TryRead(bytes, out var fast));
        Assert.True(EventParser.TryParse(bytes, out var full, out _));
        Assert.Equal(EventFields.From(full!), fast);
    }

    /// <summary>Forms the reader leaves to the parser, valid or not: the parser decides.</summary>
    [Theory]
    [InlineData("""{"time":"2026-03-02T08:00:01Z","service":"a","level":"INFO"}""")]
    [InlineData("""{"timestamp":"2026-03-02 08:00:01Z","service":"a","level":"INFO"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"info"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a\u0062","level":"INFO"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","service":"b","level":"INFO"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","metadata":{"latency_ms":1,"latency_ms":2}}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"LOUD"}""")]
    [InlineData("""{"timestamp":"2026-02-30T08:00:01Z","service":"a","level":"INFO"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"","level":"INFO"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"   ","level":"INFO"}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","message":3}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","metadata":[1]}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","trace_id":{}}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO"} {}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO",}""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01Z","level":"INFO"}""")]
    [InlineData("""[{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO"}]""")]
    [InlineData("""{"timestamp":"2026-03-02T08:00:01.12345678Z","service":"a","level":"INFO"}""")]
    public void UnusualForms_AreLeftToTheParser(string json) =>
        Assert.False(new EventFieldsReader().TryRead(Encoding.UTF8.GetBytes(json), out _));

    /// <summary>
    /// Random corruptions of valid events: whenever the reader says yes, the parser accepts the event with
    /// the same values, so the fast path never lets through an event the parser would dead-letter.
    /// </summary>
    [Fact]
    public void Mutations_TheReaderNeverAcceptsWhatTheParserRejectsOrReadsItDifferently()
    {
        var reader = new EventFieldsReader();
        int accepted = 0, agreed = 0;
        foreach (var payload in Mutations(Encoding.UTF8.GetBytes(Typical), "{}[]\":,.-+0123456789TZez \\uabcINFOERROR_latency_ms", seed: 11, count: 20_000))
        {
            var parsed = EventParser.TryParse(payload, out var full, out _);
            if (reader.TryRead(payload, out var fast))
            {
                accepted++;
                Assert.True(parsed, Encoding.UTF8.GetString(payload));
                Assert.Equal(EventFields.From(full!), fast);
                Assert.True(TryReadRow(reader, payload, out var row, out var text));
                Assert.Equal(fast, row);
                Assert.Equal(TextOf(full!), text);
            }
            else
            {
                Assert.False(TryReadRow(reader, payload, out _, out _));
                agreed += parsed ? 0 : 1;
            }
        }

        // Most mutations hit a value or break the JSON; both kinds occur.
        Assert.InRange(accepted, 1_000, 19_000);
        Assert.True(agreed > 1_000);
    }

    /// <summary><paramref name="count"/> copies of <paramref name="original"/>, each with 1 to 3 bytes replaced, inserted or removed (from <paramref name="alphabet"/>).</summary>
    internal static IEnumerable<byte[]> Mutations(byte[] original, string alphabet, int seed, int count)
    {
        var rng = new Random(seed);
        for (var n = 0; n < count; n++)
        {
            var bytes = new List<byte>(original);
            for (var k = rng.Next(1, 4); k > 0; k--)
            {
                var at = rng.Next(bytes.Count);
                var c = (byte)alphabet[rng.Next(alphabet.Length)];
                switch (rng.Next(3))
                {
                    case 0: bytes[at] = c; break;
                    case 1: bytes.Insert(at, c); break;
                    default: bytes.RemoveAt(at); break;
                }
            }

            yield return bytes.ToArray();
        }
    }

    /// <summary>The reader's row with its text decoded from the arena, to compare with <see cref="TextOf"/>.</summary>
    internal static bool TryReadRow(EventFieldsReader reader, byte[] utf8, out EventFields evt, out (string Message, string? TraceId, string? SpanId, string? Metadata) text) =>
        ReadRowWith(utf8, out evt, out text, (arena, out ranges) => (reader.TryReadRow(utf8, arena, out var e, out ranges), e));

    /// <summary>The token pass alone, as the scanner's tests compare with it.</summary>
    internal static bool TryReadTokens(EventFieldsReader reader, byte[] utf8, out EventFields evt, out (string Message, string? TraceId, string? SpanId, string? Metadata) text) =>
        ReadRowWith(utf8, out evt, out text, (arena, out ranges) => (reader.TryReadTokens(utf8, arena, out var e, out ranges), e));

    /// <summary>The scanner alone, with the text it appends.</summary>
    internal static bool TryScanRow(EventFieldsReader reader, byte[] utf8, out EventFields evt, out (string Message, string? TraceId, string? SpanId, string? Metadata) text) =>
        ReadRowWith(utf8, out evt, out text, (arena, out ranges) => (reader.TryScan(utf8, arena, out var e, out ranges), e));

    private delegate (bool Read, EventFields Event) RowReader(Utf8Arena arena, out EventTextRange ranges);

    private static bool ReadRowWith(byte[] utf8, out EventFields evt, out (string Message, string? TraceId, string? SpanId, string? Metadata) text, RowReader read)
    {
        var arena = new Utf8Arena(256);
        text = default;
        (var ok, evt) = read(arena, out var ranges);
        if (!ok)
        {
            return false;
        }

        Assert.Equal(arena.Length, ranges.Message.Length + ranges.TraceId.Length + ranges.SpanId.Length + ranges.MetadataJson.Length);
        text = (Decode(arena, ranges.Message)!, Decode(arena, ranges.TraceId), Decode(arena, ranges.SpanId), Decode(arena, ranges.MetadataJson));
        return true;
    }

    private static string? Decode(Utf8Arena arena, Utf8Range range) => range.IsNull ? null : System.Text.Encoding.UTF8.GetString(arena.Memory(range).Span);

    /// <summary>What storage keeps of the parser's event besides its fields: message, ids, metadata JSON as it arrived.</summary>
    internal static (string Message, string? TraceId, string? SpanId, string? Metadata) TextOf(TelemetryEvent e) =>
        (e.Message, e.TraceId, e.SpanId, e.Metadata?.GetRawText());
}
