using Jamba.Ops;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Quantization;

/// <summary>
/// A linear layer with weight-only quantized weights: y = x · dequantize(weight, weight_scale)ᵀ + bias. The stored
/// form is the module's state: buffers <c>weight</c> (int8 [out, in], or uint8 [out, in / 2] for 4-bit) and
/// <c>weight_scale</c> (float32 per row for int8, float16 per group for 4-bit), plus <c>bias</c> in the model's dtype when the layer has one, so the state-dict
/// keys are the Hugging Face names plus <c>.weight_scale</c>. Inference only: there are no parameters to train.
/// </summary>
public sealed class QuantizedLinear : nn.Module<Tensor, Tensor>
{
    /// <summary>The stored weight: int8 [out, in] (<see cref="JambaQuantization.Int8"/>) or uint8 [out, in / 2] (<see cref="JambaQuantization.Q4"/>).</summary>
    public readonly Tensor weight;
    /// <summary>The scales: float32 [out] for Int8, float16 [out, in / <see cref="GroupSize"/>] for Q4.</summary>
    public readonly Tensor weight_scale;
    /// <summary>The bias [out] in the model's dtype, or null.</summary>
    public readonly Tensor? bias;

    /// <summary>The scheme this layer is stored in (Int8 or Q4; a Q4 request whose groups do not tile the row is Int8).</summary>
    public JambaQuantization Scheme { get; }
    /// <summary>Input features.</summary>
    public long InFeatures { get; }
    /// <summary>Output features.</summary>
    public long OutFeatures { get; }
    /// <summary>Inputs per scale under Q4; under Int8 the whole row (<see cref="InFeatures"/>).</summary>
    public int GroupSize { get; }

    /// <summary>
    /// What the layer does with its input (not stored: a choice of how to run the weights, set from
    /// <c>JambaModelOptions.ActivationQuantization</c>). See <see cref="QuantizesActivations"/>.
    /// </summary>
    public ActivationQuantization Activations { get; set; } = ActivationQuantization.None;

    /// <summary>Whether the input is rounded to int8 before the product: <see cref="Activations"/> asks for it and
    /// in_features is a multiple of <see cref="Quantizer.ActivationBlock"/>.</summary>
    public bool QuantizesActivations => Activations == ActivationQuantization.Int8 && InFeatures % Quantizer.ActivationBlock == 0;

    /// <summary>Sets <see cref="Activations"/> on every quantized linear of <paramref name="network"/>.</summary>
    public static void SetActivations(nn.Module network, ActivationQuantization activations)
    {
        ArgumentNullException.ThrowIfNull(network);
        foreach (var (_, module) in network.named_modules())
            if (module is QuantizedLinear q) q.Activations = activations;
    }

    /// <summary>
    /// Creates a zero layer (weights and scales 0) in its stored form, allocating only the quantized bytes; fill it
    /// with <see cref="Quantize"/> or by loading a checkpoint.
    /// </summary>
    /// <param name="inFeatures">Input features.</param>
    /// <param name="outFeatures">Output features.</param>
    /// <param name="hasBias">Whether the layer has a bias (kept in <paramref name="dtype"/>).</param>
    /// <param name="scheme">Int8 or Q4 (Q4 falls back to Int8 when in_features is not a multiple of the group size).</param>
    /// <param name="groupSize">Q4 inputs per scale (an even number; the format allows 32 and 64).</param>
    /// <param name="device">Where the buffers live.</param>
    /// <param name="dtype">The model's dtype: of the bias and of the dequantized weight.</param>
    public QuantizedLinear(long inFeatures, long outFeatures, bool hasBias, JambaQuantization scheme, int groupSize = QuantizationConfig.DefaultGroupSize,
        Device? device = null, ScalarType dtype = ScalarType.Float32) : base(nameof(QuantizedLinear))
    {
        if (scheme is not (JambaQuantization.Int8 or JambaQuantization.Q4)) throw new ArgumentException($"not a quantized scheme: {scheme}", nameof(scheme));
        if (groupSize <= 0 || groupSize % 2 != 0) throw new ArgumentException($"group size {groupSize} must be positive and even", nameof(groupSize));
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Scheme = Quantizer.SchemeFor(inFeatures, scheme, groupSize);
        GroupSize = Scheme == JambaQuantization.Q4 ? groupSize : (int)Math.Min(inFeatures, int.MaxValue);
        // Zeroed, except while a checkpoint or JambaInit is about to write every value (Uninitialized.Active), where
        // zeroing would be one more pass over the weights.
        Func<long[], ScalarType, Device?, Tensor> alloc = Modeling.Uninitialized.Active ? (s, t, d) => empty(s, t, d) : (s, t, d) => zeros(s, t, d);
        weight = alloc(Quantizer.WeightShape(outFeatures, inFeatures, Scheme), Quantizer.WeightDType(Scheme), device);
        weight_scale = alloc(Quantizer.ScaleShape(outFeatures, inFeatures, Scheme, groupSize), Quantizer.ScaleDType(Scheme), device);
        bias = hasBias ? zeros(outFeatures, dtype, device) : null;
        RegisterComponents();
    }

    /// <summary>A quantized copy of <paramref name="linear"/> (its weight quantized, its bias copied).</summary>
    public static QuantizedLinear FromLinear(Linear linear, JambaQuantization scheme, int groupSize = QuantizationConfig.DefaultGroupSize)
    {
        ArgumentNullException.ThrowIfNull(linear);
        var w = linear.weight!;
        var q = new QuantizedLinear(w.size(1), w.size(0), linear.bias is not null, scheme, groupSize, w.device, w.dtype);
        q.Quantize(w);
        if (linear.bias is { } b) using (no_grad()) q.bias!.copy_(b);
        return q;
    }

    /// <summary>
    /// Replaces the stored weight with the quantization of <paramref name="fullPrecision"/> [out, in] (any float dtype
    /// and device), a block of rows at a time so the float32 temporaries stay small whatever the layer's size.
    /// </summary>
    public void Quantize(Tensor fullPrecision)
    {
        if (!fullPrecision.shape.SequenceEqual(new[] { OutFeatures, InFeatures }))
            throw new ArgumentException($"expected a weight [{OutFeatures}, {InFeatures}], got [{string.Join(", ", fullPrecision.shape)}]", nameof(fullPrecision));
        QuantizeRows(0, fullPrecision);
    }

    /// <summary>
    /// Replaces output rows [<paramref name="start"/>, start + n) of the stored weight with the quantization of
    /// <paramref name="rows"/> [n, in] (any float dtype and device): how a loader fills a large layer from a file a block
    /// of rows at a time.
    /// </summary>
    public void QuantizeRows(long start, Tensor rows)
    {
        if (rows.dim() != 2 || rows.size(1) != InFeatures || start < 0 || start + rows.size(0) > OutFeatures)
            throw new ArgumentException($"expected rows [n, {InFeatures}] starting at {start} within {OutFeatures} outputs, got [{string.Join(", ", rows.shape)}]", nameof(rows));
        using var _ = no_grad();
        long block = Math.Max(1, QuantizeBlockElements / Math.Max(1, InFeatures)), count = rows.size(0);
        for (long r = 0; r < count; r += block)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(block, count - r);
            Quantizer.QuantizeInto(rows.narrow(0, r, n), Scheme, GroupSize, weight.narrow(0, start + r, n), weight_scale.narrow(0, start + r, n));
        }
        // The blocks' temporaries are freed: hand their pages back, so quantizing a model layer by layer (while loading
        // or initialising it) does not grow the heap by freed blocks the next allocations do not reuse.
        Runtime.NativeHeap.Trim();
    }

    /// <summary>Elements of the float weight quantized per block in <see cref="Quantize"/>.</summary>
    const long QuantizeBlockElements = 1L << 20;

    /// <summary>The dense weight [out, in] in <paramref name="dtype"/> (through <see cref="Dequantize.Forward"/>).</summary>
    public Tensor Dequantized(ScalarType dtype) => Dequantize.Forward(weight, weight_scale, dtype);

    /// <summary>Bytes of the stored weight, scales and bias.</summary>
    public long StoredBytes => weight.NumberOfElements * weight.ElementSize + weight_scale.NumberOfElements * weight_scale.ElementSize
        + (bias is null ? 0 : bias.NumberOfElements * bias.ElementSize);

    /// <inheritdoc/>
    /// <remarks>
    /// On the CPU a few rows (a decode step) go through the decode kernels (<c>DecodeLinear.TryForward</c>), several
    /// float rows (a prefill, scoring) through a blocked GEMM that dequantizes the weight a panel at a time
    /// (<see cref="QuantizedMatmul.Forward"/>); anything else, and the twin both are tested against, is
    /// <see cref="ForwardDequantized"/>.
    /// </remarks>
    public override Tensor forward(Tensor x) => Engine.Cpu.DecodeLinear.TryForward(x, this) ?? Product(x, dequantized: false);

    /// <summary>
    /// The tensor path, on any device and for any number of rows: the weight dequantized in full and multiplied by
    /// libtorch. The CPU kernels <see cref="forward"/> takes where they apply are tested against it.
    /// </summary>
    public Tensor ForwardDequantized(Tensor x) => Product(x, dequantized: true);

    private Tensor Product(Tensor x, bool dequantized)
    {
        using var scope = NewDisposeScope();
        // On the CPU a bfloat16 input is multiplied in float32 and the product rounded to bfloat16 once: the weight is
        // q · s in float32 before any rounding, and libtorch's bfloat16 matmul takes a generic path far slower than its
        // float32 one on CPUs without AVX-512 BF16. The decode engine's kernels compute the same way.
        var compute = x.dtype == ScalarType.BFloat16 && x.device_type == DeviceType.CPU ? ScalarType.Float32 : x.dtype;
        var input = QuantizesActivations ? Quantizer.FakeQuantizeActivations(x).to_type(compute) : x.to_type(compute);
        var y = dequantized
            ? nn.functional.linear(input, Dequantize.Forward(weight, weight_scale, compute), bias?.to_type(compute))
            : QuantizedMatmul.Forward(input, weight, weight_scale, bias?.to_type(compute));
        return y.to_type(x.dtype).MoveToOuterDisposeScope();
    }
}
