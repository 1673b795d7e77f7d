using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Npgsql;

namespace Helios.ServiceDefaults.Data;

/// <summary>Encodes one row of PostgreSQL's binary COPY format at the start of <paramref name="destination"/>; returns its length.</summary>
internal delegate int RowEncoder<T>(Span<byte> destination, in T row);

/// <summary>An upper bound of a row's encoded length.</summary>
internal delegate int RowBound<T>(in T row);

/// <summary>
/// Binary COPY with rows Helios encodes itself (<see cref="EventCopyRows"/>, <see cref="WindowCopyRows"/>): Npgsql's
/// per-field importer had cost about as much CPU per row as everything else the writers do. The format's framing and the
/// field encodings the row encoders share are here.
/// </summary>
internal static class RawCopy
{
    /// <summary>The format's signature, then flags and header extension length (both 0).</summary>
    public static ReadOnlySpan<byte> Header => [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', (byte)'\n', 0xFF, (byte)'\r', (byte)'\n', 0, 0, 0, 0, 0, 0, 0, 0, 0];

    /// <summary>A field count of -1 ends the data.</summary>
    public static ReadOnlySpan<byte> Trailer => [0xFF, 0xFF];

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
            Header.CopyTo(buffer);
            var used = Header.Length;
            for (var i = 0; i < rows.Count; i++)
            {
                var row = rows[i];
                var most = maxBytes(row) + Trailer.Length;
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

            Trailer.CopyTo(buffer.AsSpan(used));
            await copy.WriteAsync(buffer.AsMemory(0, used + Trailer.Length), ct);
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

    /// <summary>PostgreSQL's timestamps count microseconds from 2000-01-01 UTC (Npgsql's conversion, truncating below a microsecond).</summary>
    private const long PostgresEpochTicks = 630_822_816_000_000_000;

    /// <summary>A field of 8 bytes (bigint); each encoder returns the bytes it wrote, its length word included.</summary>
    public static int Int64(Span<byte> destination, long value)
    {
        BinaryPrimitives.WriteInt32BigEndian(destination, 8);
        BinaryPrimitives.WriteInt64BigEndian(destination[4..], value);
        return 12;
    }

    public static int Float8(Span<byte> destination, double value) => Int64(destination, BitConverter.DoubleToInt64Bits(value));

    /// <summary>A timestamptz from UTC ticks.</summary>
    public static int Timestamp(Span<byte> destination, long utcTicks) => Int64(destination, (utcTicks - PostgresEpochTicks) / 10);

    public static int Null(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt32BigEndian(destination, -1);
        return 4;
    }

    /// <summary>Text from a string, as UTF-8.</summary>
    public static int Utf16(Span<byte> destination, string value)
    {
        var length = Encoding.UTF8.GetBytes(value, destination[4..]);
        BinaryPrimitives.WriteInt32BigEndian(destination, length);
        return 4 + length;
    }
}
