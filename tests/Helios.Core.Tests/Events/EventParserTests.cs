using System.Text;
using Helios.Core.Events;

namespace Helios.Core.Tests.Events;

public class EventParserTests
{
    private static (TelemetryEvent? Event, EventError? Error) Parse(string json)
    {
        var ok = EventParser.TryParse(Encoding.UTF8.GetBytes(json), out var evt, out var error);
        Assert.Equal(ok, error is null);
        return (evt, error);
    }

    [Fact]
    public void TryParse_ValidEvent_ReadsFieldsAndLatency()
    {
        var (evt, error) = Parse("""{"timestamp":"2026-01-05T08:00:01.5Z","service":"api","level":"error","message":"x","metadata":{"latency_ms":12.5,"endpoint":"/a","custom":1},"trace_id":"t"}""");
        Assert.Null(error);
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 8, 0, 1, 500, TimeSpan.Zero), evt!.Timestamp);
        Assert.Equal(EventLevel.Error, evt.Level);
        Assert.True(evt.IsError);
        Assert.Equal(12.5, evt.LatencyMs);
        Assert.Equal("/a", evt.Endpoint);
        Assert.Equal(1, evt.Metadata!.Value.GetProperty("custom").GetInt32());
        Assert.Equal("t", evt.TraceId);
    }

    [Fact]
    public void TryParse_TimeAlias_IsAccepted()
    {
        var (evt, error) = Parse("""{"time":"2026-01-05T08:00:00+01:00","service":"api","level":"INFO"}""");
        Assert.Null(error);
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 7, 0, 0, TimeSpan.Zero), evt!.Timestamp.ToUniversalTime());
    }

    [Theory]
    [InlineData("""{"service":"a","level":"INFO"}""", "timestamp")]
    [InlineData("""{"timestamp":"yesterday","service":"a","level":"INFO"}""", "timestamp")]
    [InlineData("""{"timestamp":"2026-01-05T08:00:00Z","level":"INFO"}""", "service")]
    [InlineData("""{"timestamp":"2026-01-05T08:00:00Z","service":"","level":"INFO"}""", "service")]
    [InlineData("""{"timestamp":"2026-01-05T08:00:00Z","service":"a","level":"LOUD"}""", "level")]
    [InlineData("""{"timestamp":"2026-01-05T08:00:00Z","service":"a","level":"INFO","metadata":[1]}""", "metadata")]
    [InlineData("""{"timestamp":"2026-01-05T08:00:00Z","service":"a","level":"INFO","message":5}""", "message")]
    [InlineData("""[1,2]""", "$")]
    [InlineData("""{not json""", "$")]
    public void TryParse_InvalidEvent_NamesTheField(string json, string field)
    {
        var (evt, error) = Parse(json);
        Assert.Null(evt);
        Assert.Equal(field, error!.Field);
        Assert.False(string.IsNullOrWhiteSpace(error.Reason));
    }

    /// <summary>Text that cannot be decoded is a clear rejection (dead-letter, 400), never an exception that stops a consumer.</summary>
    [Fact]
    public void TryParse_InvalidUtf8OrLoneSurrogate_IsRejectedWithoutThrowing()
    {
        var head = System.Text.Encoding.UTF8.GetBytes("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","message":"x""");
        var tail = System.Text.Encoding.UTF8.GetBytes("\"}");
        byte[] invalid = [.. head, 0xC3, 0x28, .. tail];
        Assert.False(EventParser.TryParse(invalid, out _, out var error));
        Assert.Equal("$", error!.Field);

        using var document = System.Text.Json.JsonDocument.Parse(invalid);
        Assert.False(EventParser.TryParse(document.RootElement, out _, out error));
        Assert.Equal("$", error!.Field);

        var surrogate = System.Text.Encoding.UTF8.GetBytes("""{"timestamp":"2026-03-02T08:00:01Z","service":"a","level":"INFO","message":"x\ud800"}""");
        Assert.False(EventParser.TryParse(surrogate, out _, out error));
        Assert.Equal("$", error!.Field);

        var reader = new EventFieldsReader();
        Assert.False(reader.TryRead(invalid, out _));
        Assert.False(EventFieldsReaderTests.TryReadRow(reader, invalid, out _, out _));
        Assert.False(EventFieldsReaderTests.TryReadRow(reader, surrogate, out _, out _));
    }

    [Fact]
    public void TryParse_ServiceOf256Chars_IsRejected()
    {
        var (_, error) = Parse($$"""{"timestamp":"2026-01-05T08:00:00Z","service":"{{new string('s', 256)}}","level":"INFO"}""");
        Assert.Equal("service", error!.Field);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("\"12\"")]
    public void TryParse_NonPositiveOrNonNumericLatency_IsNoLatency(string latency)
    {
        var (evt, _) = Parse("""{"timestamp":"2026-01-05T08:00:00Z","service":"a","level":"INFO","metadata":{"latency_ms":""" + latency + "}}");
        Assert.True(double.IsNaN(evt!.LatencyMs));
    }

    [Fact]
    public void Serialize_RoundTrips_ThroughParser()
    {
        var (evt, _) = Parse("""{"timestamp":"2026-01-05T08:00:01.250Z","service":"api","level":"WARN","message":"m","metadata":{"latency_ms":3,"endpoint":"/e"},"span_id":"s"}""");
        Assert.True(EventParser.TryParse(EventJson.Serialize(evt!), out var again, out var error));
        Assert.Null(error);
        Assert.Equal(evt!.Timestamp, again!.Timestamp);
        Assert.Equal(evt.Level, again.Level);
        Assert.Equal(evt.LatencyMs, again.LatencyMs);
        Assert.Equal("s", again.SpanId);
    }
}
