using System.Text;

namespace Helios.Core.Events;

/// <summary>Where a value's UTF-8 bytes are in a <see cref="Utf8Arena"/>; <see cref="None"/> for a null value.</summary>
public readonly record struct Utf8Range(int Offset, int Length)
{
    public static readonly Utf8Range None = new(-1, 0);

    public bool IsNull => Offset < 0;
}

/// <summary>
/// The text storage keeps of an event as ranges of a <see cref="Utf8Arena"/>: its message ("" when absent or null),
/// trace and span ids, and the metadata object's JSON text as it arrived.
/// </summary>
public readonly record struct EventTextRange(Utf8Range Message, Utf8Range TraceId, Utf8Range SpanId, Utf8Range MetadataJson);

/// <summary>
/// One growing buffer for the text of many events (a storage batch): no object per event, emptied and reused batch
/// after batch, and written to PostgreSQL as the UTF-8 it already is. Ranges stay valid until <see cref="Clear"/>.
/// </summary>
public sealed class Utf8Arena(int capacity = 1 << 20)
{
    private byte[] _buffer = new byte[capacity];

    public int Length { get; private set; }

    public Utf8Range Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Reserve(bytes.Length));
        return Commit(bytes.Length);
    }

    public Utf8Range Append(string? text) =>
        text is null ? Utf8Range.None : Commit(Encoding.UTF8.GetBytes(text, Reserve(Encoding.UTF8.GetMaxByteCount(text.Length))));

    /// <summary>Room for up to <paramref name="maxLength"/> bytes after the end; <see cref="Commit"/> then keeps what was written.</summary>
    public Span<byte> Reserve(int maxLength)
    {
        if (Length + maxLength > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(Length + maxLength, _buffer.Length * 2));
        }

        return _buffer.AsSpan(Length, maxLength);
    }

    public Utf8Range Commit(int length)
    {
        var range = new Utf8Range(Length, length);
        Length += length;
        return range;
    }

    public ReadOnlyMemory<byte> Memory(Utf8Range range) => _buffer.AsMemory(range.Offset, range.Length);

    /// <summary>Drops everything appended after <paramref name="length"/> bytes.</summary>
    public void Truncate(int length) => Length = Math.Min(Length, length);

    public void Clear() => Length = 0;
}
