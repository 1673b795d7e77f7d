using Microsoft.AspNetCore.Http.HttpResults;
using Npgsql;

namespace Helios.Api.Infrastructure;

/// <summary>
/// What the list endpoints share: checking limit, offset and the time range, and one round trip that reads a page
/// of rows and the totals over every matching row, both queries bound to the same filter parameters.
/// </summary>
public static class Paging
{
    /// <summary>A problem naming the first bad paging field, or null.</summary>
    public static ValidationProblem? Check(int limit, int maxLimit, int offset, DateTimeOffset? from, DateTimeOffset? to)
    {
        if (limit < 1 || limit > maxLimit)
        {
            return Problems.Field("limit", $"Must be between 1 and {maxLimit}.");
        }

        if (offset < 0)
        {
            return Problems.Field("offset", "Must be 0 or more.");
        }

        return from is not null && to is not null && from > to ? Problems.Field("from", "Must not be after 'to'.") : null;
    }

    /// <param name="pageSql">The page query; it takes @limit and @offset besides the filters.</param>
    /// <param name="totalsSql">One row of totals over every row the filters match.</param>
    /// <param name="filters">Parameters of both queries (null binds SQL NULL).</param>
    public static async Task<(List<T> Items, TTotals Totals)> ReadAsync<T, TTotals>(
        NpgsqlDataSource db, string pageSql, string totalsSql, IReadOnlyList<(string Name, object? Value)> filters,
        int limit, int offset, Func<NpgsqlDataReader, T> readRow, Func<NpgsqlDataReader, TTotals> readTotals, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        var page = new NpgsqlBatchCommand(pageSql);
        var totals = new NpgsqlBatchCommand(totalsSql);
        foreach (var cmd in (NpgsqlBatchCommand[])[page, totals])
        {
            foreach (var (name, value) in filters)
            {
                cmd.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }

            batch.BatchCommands.Add(cmd);
        }

        page.Parameters.AddWithValue("limit", limit);
        page.Parameters.AddWithValue("offset", offset);
        await using var reader = await batch.ExecuteReaderAsync(ct);
        var items = new List<T>();
        while (await reader.ReadAsync(ct))
        {
            items.Add(readRow(reader));
        }

        await reader.NextResultAsync(ct);
        await reader.ReadAsync(ct);
        return (items, readTotals(reader));
    }
}
