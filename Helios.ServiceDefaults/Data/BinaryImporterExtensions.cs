using Npgsql;
using NpgsqlTypes;

namespace Helios.ServiceDefaults.Data;

/// <summary>A value or NULL in a binary COPY row (the window records' optional columns).</summary>
internal static class BinaryImporterExtensions
{
    public static Task WriteOrNullAsync<T>(this NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken ct)
        where T : struct =>
        value is { } v ? copy.WriteAsync(v, type, ct) : copy.WriteNullAsync(ct);

    public static Task WriteOrNullAsync<T>(this NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken ct)
        where T : class =>
        value is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(value, type, ct);
}
