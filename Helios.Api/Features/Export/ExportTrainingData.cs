using System.Data;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Helios.Api.Infrastructure;
using Helios.Core.Aggregates;
using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Helios.Api.Features.Export;

/// <summary>
/// GET /api/v1/export/training-data: per service and bucket of event time, the traffic a model trains on, read from
/// the stored per-minute aggregates (never from the raw events). The bucket is honoured (the seed ignored it) and
/// buckets are aligned to UTC midnight. Rows are streamed as they are read, so a week of 10,000 services needs no
/// more memory than a day of one.
/// </summary>
public static class ExportTrainingData
{
    public const int MaxDays = 366;

    private static readonly string[] Columns =
        ["service", "bucket_start", "bucket_end", "events", "errors", "error_rate", "requests_per_second", "avg_latency_ms", "max_latency_ms", "latency_samples"];

    public static IEndpointRouteBuilder MapExportEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/v1/export").WithTags("Export")
            .MapGet("/training-data", Export).WithName("ExportTrainingData")
            .WithSummary("Events, errors, error rate, requests per second and latency per service and bucket (bucket=1m..1d, default 5m) " +
                         "over the last 'days' (default 7) or from..to, as csv (default) or json, from the stored per-minute aggregates.");
        return app;
    }

    public static Results<PushStreamHttpResult, ValidationProblem> Export(
        NpgsqlDataSource db, CancellationToken ct,
        int days = 7, string bucket = "5m", string format = "csv", string? service = null, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        if (days < 1 || days > MaxDays)
        {
            return Problems.Field("days", $"Must be between 1 and {MaxDays}.");
        }

        if (!BucketSize.TryParse(bucket, out var size))
        {
            return Problems.Field("bucket", BucketSize.Rule);
        }

        var csv = string.Equals(format, "csv", StringComparison.OrdinalIgnoreCase);
        if (!csv && !string.Equals(format, "json", StringComparison.OrdinalIgnoreCase))
        {
            return Problems.Field("format", "Must be csv or json.");
        }

        if (Problems.TimeOutOfRange(("from", from), ("to", to)) is { } outOfRange)
        {
            return outOfRange;
        }

        var end = to ?? DateTimeOffset.UtcNow;
        var start = from ?? end.AddDays(-days);
        if (start >= end)
        {
            return Problems.Field("from", "Must be before 'to'.");
        }

        if (end - start > TimeSpan.FromDays(MaxDays))
        {
            return Problems.Field("from", $"The range must not exceed {MaxDays} days.");
        }

        // Whole buckets only: the first and last bucket of a range cover the same minutes as any other.
        start = BucketSize.Floor(start, size);
        end = BucketSize.Floor(end.AddTicks(size.Ticks - 1), size);
        var range = new ExportRange(start, end, size, bucket.ToLowerInvariant(), service);
        var name = $"training-data-{range.Bucket}.{(csv ? "csv" : "json")}";
        return TypedResults.Stream(body => csv ? WriteCsvAsync(db, range, body, ct) : WriteJsonAsync(db, range, body, ct),
            csv ? "text/csv; charset=utf-8" : "application/json", name);
    }

    private sealed record ExportRange(DateTimeOffset From, DateTimeOffset To, TimeSpan Size, string Bucket, string? Service);

    private readonly record struct Row(string Service, DateTimeOffset Start, long Events, long Errors, long LatencySamples, double LatencySum, double? LatencyMax);

    private static async Task WriteCsvAsync(NpgsqlDataSource db, ExportRange range, Stream body, CancellationToken ct)
    {
        await using var writer = new StreamWriter(body, new UTF8Encoding(false), 64 * 1024);
        await writer.WriteLineAsync(string.Join(',', Columns));
        var line = new StringBuilder();
        await foreach (var row in ReadAsync(db, range, ct))
        {
            var (errorRate, rps, avg) = Derived(row, range.Size);
            line.Clear();
            AppendCsvText(line, row.Service);
            line.Append(',').Append(Timestamp(row.Start)).Append(',').Append(Timestamp(row.Start + range.Size))
                .Append(',').Append(row.Events).Append(',').Append(row.Errors)
                .Append(',').Append(Number(errorRate)).Append(',').Append(Number(rps)).Append(',').Append(Number(avg))
                .Append(',').Append(row.LatencyMax is { } max ? Number(max) : "").Append(',').Append(row.LatencySamples);
            await writer.WriteLineAsync(line, ct);
        }
    }

    private static async Task WriteJsonAsync(NpgsqlDataSource db, ExportRange range, Stream body, CancellationToken ct)
    {
        await using var json = new Utf8JsonWriter(body);
        json.WriteStartObject();
        json.WriteString("from", range.From);
        json.WriteString("to", range.To);
        json.WriteString("bucket", range.Bucket);
        json.WriteNumber("bucket_seconds", (long)range.Size.TotalSeconds);
        if (range.Service is not null)
        {
            json.WriteString("service", range.Service);
        }

        json.WriteStartArray("rows");
        await foreach (var row in ReadAsync(db, range, ct))
        {
            var (errorRate, rps, avg) = Derived(row, range.Size);
            json.WriteStartObject();
            json.WriteString(Columns[0], row.Service);
            json.WriteString(Columns[1], row.Start);
            json.WriteString(Columns[2], row.Start + range.Size);
            json.WriteNumber(Columns[3], row.Events);
            json.WriteNumber(Columns[4], row.Errors);
            json.WriteNumber(Columns[5], errorRate);
            json.WriteNumber(Columns[6], rps);
            json.WriteNumber(Columns[7], avg);
            if (row.LatencyMax is { } max)
            {
                json.WriteNumber(Columns[8], max);
            }
            else
            {
                json.WriteNull(Columns[8]);
            }

            json.WriteNumber(Columns[9], row.LatencySamples);
            json.WriteEndObject();
            if (json.BytesPending > 32 * 1024)
            {
                await json.FlushAsync(ct);
            }
        }

        json.WriteEndArray();
        json.WriteEndObject();
        await json.FlushAsync(ct);
    }

    /// <summary>Error rate over the bucket's events; requests per second over the whole bucket; mean latency, 0 without samples (as the features take it).</summary>
    private static (double ErrorRate, double RequestsPerSecond, double AvgLatencyMs) Derived(in Row row, TimeSpan size) => (
        row.Events == 0 ? 0 : (double)row.Errors / row.Events,
        row.Events / size.TotalSeconds,
        row.LatencySamples == 0 ? 0 : row.LatencySum / row.LatencySamples);

    private static async IAsyncEnumerable<Row> ReadAsync(NpgsqlDataSource db, ExportRange range, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT service, date_bin(@bucket, minute, TIMESTAMPTZ '2000-01-01 00:00:00+00'),
                   sum(events)::bigint, sum(errors)::bigint, sum(latency_count)::bigint, sum(latency_sum), max(latency_max)
            FROM event_minutes
            WHERE minute >= @from AND minute < @to AND (@service::text IS NULL OR service = @service)
            GROUP BY 1, 2 ORDER BY 1, 2
            """);
        cmd.Parameters.AddWithValue("bucket", range.Size);
        cmd.Parameters.AddWithValue("from", range.From);
        cmd.Parameters.AddWithValue("to", range.To);
        cmd.Parameters.AddWithValue("service", (object?)range.Service ?? DBNull.Value);
        // An export can take longer than the default 30 s command timeout; the request's cancellation still ends it.
        cmd.CommandTimeout = 0;
        await using var reader = await cmd.ExecuteReaderAsync(CommandBehavior.SequentialAccess, ct);
        while (await reader.ReadAsync(ct))
        {
            yield return new Row(reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetInt64(2), reader.GetInt64(3),
                reader.GetInt64(4), reader.GetDouble(5), reader.IsDBNull(6) ? null : reader.GetDouble(6));
        }
    }

    private static string Timestamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.</summary>
    private static void AppendCsvText(StringBuilder line, string text)
    {
        if (text.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            line.Append(text);
            return;
        }

        line.Append('"').Append(text.Replace("\"", "\"\"")).Append('"');
    }
}
