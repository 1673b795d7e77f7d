using System.Buffers;
using Npgsql;

namespace Helios.ServiceDefaults.Data;

/// <summary>Encodes one row of PostgreSQL's binary COPY format at the start of <paramref name="destination"/>; returns its length.</summary>
internal delegate int RowEncoder<T>(Span<byte> destination, in T row);

/// <summary>An upper bound of a row's encoded length.</summary>
internal delegate int RowBound<T>(in T row);

/// <summary>
/// Binary COPY with rows Helios encodes itself (<see cref="EventCopyRows"/>, <see cref="WindowCopyRows"/>): Npgsql's
/// per-field importer had cost about as much CPU per row as everything else the writers do.
/// </summary>
internal static class RawCopy
{
    /// <summary>Rows are encoded into a buffer of this size and sent as it fills.</summary>
    private const int ChunkBytes = 64 * 1024;

    /// <summary>
    /// One binary COPY of <paramref name="rows"/>, each encoded into a buffer of <see cref="ChunkBytes"/> (a longer one
    /// into a buffer of its own size) that is sent as it fills.
    /// </summary>
    public static async Task WriteRowsAsync<T>(NpgsqlConnection connection, string copyCommand, IReadOnlyList<T> rows, RowBound<T> maxBytes, RowEncoder<T> encode, CancellationToken ct)
    {
        var copy = await connection.BeginRawBinaryCopyAsync(copyCommand, ct);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            EventCopyRows.Header.CopyTo(buffer);
            var used = EventCopyRows.Header.Length;
            for (var i = 0; i < rows.Count; i++)
            {
                var row = rows[i];
                var most = maxBytes(row) + EventCopyRows.Trailer.Length;
                if (used + most > buffer.Length)
                {
                    await copy.WriteAsync(buffer.AsMemory(0, used), ct);
                    used = 0;
                    if (most > buffer.Length)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = ArrayPool<byte>.Shared.Rent(most);
                    }
                }

                used += encode(buffer.AsSpan(used), row);
            }

            EventCopyRows.Trailer.CopyTo(buffer.AsSpan(used));
            await copy.WriteAsync(buffer.AsMemory(0, used + EventCopyRows.Trailer.Length), ct);
        }
        catch
        {
            await AbandonQuietlyAsync(copy);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        // Ends the COPY: the server's verdict on the rows (a key they break, say) is thrown here.
        await copy.DisposeAsync();
    }

    /// <summary>
    /// Ends a COPY without its rows. On a broken connection the cancel and the close fail too, and the first error is the
    /// one to see: theirs are dropped.
    /// </summary>
    private static async Task AbandonQuietlyAsync(NpgsqlRawCopyStream copy)
    {
        try
        {
            await copy.CancelAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
        {
        }

        try
        {
            await copy.DisposeAsync();
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException or IOException)
        {
        }
    }
}
