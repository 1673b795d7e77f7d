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

    /// <summary>The fingerprint of <paramref name="value"/>; a null value (a tombstone) has one of its own.</summary>
    public static long Of(byte[]? value)
    {
        if (value is null)
        {
            return -1;
        }

        var hash = OffsetBasis;
        foreach (var b in value)
        {
            hash = (hash ^ b) * Prime;
        }

        return (long)((hash ^ (ulong)value.Length) * Prime) & long.MaxValue;
    }
}
