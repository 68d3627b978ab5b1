using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Quantization;

/// <summary>
/// Bytes of a network's weights by precision: its parameters and persistent buffers grouped as stored (the int8 and
/// packed 4-bit projection weights, their float32 scales, and everything kept in the model's dtype).
/// </summary>
public static class PrecisionBytes
{
    /// <summary>One precision: its name, the bytes and the number of tensors.</summary>
    /// <param name="Precision"><c>int8</c>, <c>q4</c> (two weights per byte), <c>f32 scales</c>, or a dtype (<c>f32</c>, <c>bf16</c>, <c>f16</c>).</param>
    /// <param name="Bytes">Bytes of the tensors.</param>
    /// <param name="Tensors">Number of tensors.</param>
    public sealed record Entry(string Precision, long Bytes, int Tensors);

    /// <summary>The network's weight bytes by precision, largest first.</summary>
    public static IReadOnlyList<Entry> Of(nn.Module network)
    {
        ArgumentNullException.ThrowIfNull(network);
        var all = network.named_parameters().Select(p => (p.name, t: (Tensor)p.parameter))
            .Concat(network.named_buffers(recurse: true, include_nonpersistent: false).Select(b => (b.name, t: b.buffer)));
        return all.GroupBy(x => Precision(x.name, x.t.dtype))
            .Select(g => new Entry(g.Key, g.Sum(x => x.t.NumberOfElements * x.t.ElementSize), g.Count()))
            .OrderByDescending(e => e.Bytes).ToList();
    }

    /// <summary>One line: <c>int8 24.1 MiB (96 tensors), f32 9.5 MiB (40), f32 scales 0.1 MiB (96)</c>.</summary>
    public static string Format(IReadOnlyList<Entry> entries) => string.Join(", ", entries.Select(e =>
        string.Create(CultureInfo.InvariantCulture, $"{e.Precision} {e.Bytes / 1048576.0:F1} MiB ({e.Tensors} tensors)")));

    private static string Precision(string name, ScalarType dtype) => dtype switch
    {
        ScalarType.Int8 => "int8",
        ScalarType.Byte => "q4",
        ScalarType.Float32 when name.EndsWith(".weight_scale", StringComparison.Ordinal) => "f32 scales",
        ScalarType.Float32 => "f32",
        ScalarType.Float16 when name.EndsWith(".weight_scale", StringComparison.Ordinal) => "f16 scales",
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "f16",
        _ => dtype.ToString(),
    };
}
