using Microsoft.ML;
using Microsoft.ML.Data;

namespace Jamba.MLNet.Internal;

/// <summary>
/// Typed access to rows for the batching machinery: readers turn a row's column into a value the mapper understands,
/// copiers take an owned snapshot of any column (so rows can be buffered while the source cursor moves on), and
/// getters hand values back out in the ValueGetter form ML.NET expects.
/// </summary>
internal static class ColumnReaders
{
    /// <summary>Reads a text column as a string ("" for empty or missing text).</summary>
    public static Func<object?> Text(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<ReadOnlyMemory<char>>(column);
        return () =>
        {
            ReadOnlyMemory<char> value = default;
            getter(ref value);
            return value.ToString();
        };
    }

    /// <summary>Reads a text-vector column as a string array.</summary>
    public static Func<object?> TextVector(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<VBuffer<ReadOnlyMemory<char>>>(column);
        return () =>
        {
            VBuffer<ReadOnlyMemory<char>> value = default;
            getter(ref value);
            var dense = new ReadOnlyMemory<char>[value.Length];
            value.CopyTo(dense);
            return dense.Select(m => m.ToString()).ToArray();
        };
    }

    /// <summary>An owned snapshot reader for any column (vectors and text are copied, scalars boxed).</summary>
    public static Func<object?> Copier(DataViewRow row, DataViewSchema.Column column)
    {
        var raw = column.Type.RawType;
        if (raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>))
            return (Func<object?>)typeof(ColumnReaders).GetMethod(nameof(VectorCopier), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
                .MakeGenericMethod(raw.GetGenericArguments()[0]).Invoke(null, new object[] { row, column })!;
        return (Func<object?>)typeof(ColumnReaders).GetMethod(nameof(ScalarCopier), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .MakeGenericMethod(raw).Invoke(null, new object[] { row, column })!;
    }

    private static Func<object?> VectorCopier<T>(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<VBuffer<T>>(column);
        return () =>
        {
            VBuffer<T> value = default, copy = default;
            getter(ref value);
            value.CopyTo(ref copy);
            return copy;
        };
    }

    private static Func<object?> ScalarCopier<T>(DataViewRow row, DataViewSchema.Column column)
    {
        var getter = row.GetGetter<T>(column);
        return () =>
        {
            T value = default!;
            getter(ref value);
            // Text may point into a buffer the source reuses for the next row; a string copy is owned.
            if (value is ReadOnlyMemory<char> text) return text.ToString().AsMemory();
            return value;
        };
    }

    /// <summary>A getter for a column of <paramref name="type"/> whose current value comes from <paramref name="current"/>.</summary>
    public static Delegate Getter(DataViewType type, Func<object?> current)
    {
        var raw = type.RawType;
        var method = raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>)
            ? typeof(ColumnReaders).GetMethod(nameof(VectorGetter), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.MakeGenericMethod(raw.GetGenericArguments()[0])
            : typeof(ColumnReaders).GetMethod(nameof(ScalarGetter), System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!.MakeGenericMethod(raw);
        return (Delegate)method.Invoke(null, new object[] { current })!;
    }

    private static ValueGetter<VBuffer<T>> VectorGetter<T>(Func<object?> current) => (ref VBuffer<T> dst) =>
    {
        switch (current())
        {
            case VBuffer<T> v: v.CopyTo(ref dst); break;
            case T[] array: new VBuffer<T>(array.Length, array).CopyTo(ref dst); break;
            case null: new VBuffer<T>(0, Array.Empty<T>()).CopyTo(ref dst); break;
            case var other: throw new InvalidOperationException($"internal: value of type {other.GetType().Name} for a VBuffer<{typeof(T).Name}> column");
        }
    };

    private static ValueGetter<T> ScalarGetter<T>(Func<object?> current) => (ref T dst) =>
    {
        var value = current();
        if (typeof(T) == typeof(ReadOnlyMemory<char>) && value is string s) dst = (T)(object)s.AsMemory();
        else dst = value is null ? default! : (T)value;
    };
}
