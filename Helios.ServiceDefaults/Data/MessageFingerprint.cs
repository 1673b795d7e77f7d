namespace Helios.ServiceDefaults.Data;

/// <summary>
/// A 64-bit fingerprint of a Kafka message's value (FNV-1a over its bytes, then its length), with which the event
/// ledger recognises the message before a partition's next offset: the same offset in a topic created anew holds
/// another message. One value is fingerprinted per partition and batch.
/// </summary>
public static class MessageFingerprint
{
    private const ulong OffsetBasis = 14695981039346656037;
    private const ulong Prime = 1099511628211;

    /// <summary>A null value's (a tombstone's): no value's fingerprint is negative.</summary>
    public const long Null = -1;

    /// <summary>The fingerprint of <paramref name="value"/>, <see cref="Null"/> for null.</summary>
    public static long Of(byte[]? value) => value is null ? Null : Of(value.AsSpan());

    /// <summary>The fingerprint of a value read in place.</summary>
    public static long Of(ReadOnlySpan<byte> value)
    {
        var hash = OffsetBasis;
        foreach (var b in value)
        {
            hash = (hash ^ b) * Prime;
        }

        return (long)((hash ^ (ulong)value.Length) * Prime) & long.MaxValue;
    }
}
