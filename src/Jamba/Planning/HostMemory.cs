using System.Globalization;
using Jamba.Quantization;
using static TorchSharp.torch;

namespace Jamba.Planning;

/// <summary>
/// The memory this machine can still give (Linux <c>MemAvailable</c>), and the check that refuses a model whose
/// parameters cannot fit before any of them is allocated: without it an absurd config makes libtorch allocate
/// and page for minutes before the kernel kills the process.
/// </summary>
public static class HostMemory
{
    /// <summary>
    /// Test seam: when set, used instead of <c>/proc/meminfo</c> (thread-static so parallel tests cannot interfere).
    /// </summary>
    [ThreadStatic] internal static long? AvailableOverride;

    /// <summary>Bytes available for new allocations without swapping (<c>MemAvailable</c>), or null where unknown.</summary>
    public static long? AvailableBytes()
    {
        if (AvailableOverride is long o) return o;
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal) &&
                    long.TryParse(line.AsSpan("MemAvailable:".Length).Trim().TrimEnd("kB").Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out long kb))
                    return kb * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>
    /// Bytes of the parameters of <paramref name="config"/>'s network in <paramref name="dtype"/>; with a
    /// <c>quantization_config</c>, the decoder projections at their quantized size (1 byte per weight for int8, ½ for
    /// 4-bit, plus the scales: at most 1/16 byte per weight for rows of 64 or more inputs), which this closed form
    /// counts as if every projection were quantized in the config's scheme; the LM head likewise when the config
    /// quantizes it.
    /// </summary>
    /// <exception cref="OverflowException">The size does not fit in 64 bits.</exception>
    public static long ParameterBytes(JambaConfig config, ScalarType dtype, ModelHead? head = null)
    {
        long total = ParameterCount.TotalOf(config, head);
        if (QuantizationConfig.Of(config) is not { } q) return checked(total * ElementSize(dtype));
        long projections = ProjectionWeights(config);
        if (q.LmHead && !config.TieWordEmbeddings && (head ?? (config.IsSequenceClassifier ? ModelHead.SequenceClassification : ModelHead.CausalLM)) == ModelHead.CausalLM)
            projections = checked(projections + (long)config.VocabSize * config.HiddenSize);
        double perWeight = q.Scheme == JambaQuantization.Q4 ? 0.5 + 2.0 / q.GroupSize : 1.0 + 1.0 / 16;
        double bytes = (double)(total - projections) * ElementSize(dtype) + projections * perWeight;
        return bytes < long.MaxValue ? (long)Math.Ceiling(bytes) : throw new OverflowException();
    }

    /// <summary>Weights of the decoder's projections (the linears quantization stores quantized), in closed form.</summary>
    private static long ProjectionWeights(JambaConfig config)
    {
        checked
        {
            long layers = config.NumHiddenLayers, h = config.HiddenSize, d = config.MambaDInner, n = config.MambaDState, r = config.MambaDtRank;
            long attention = layers > config.AttnLayerOffset ? (layers - 1 - config.AttnLayerOffset) / config.AttnLayerPeriod + 1 : 0;
            long moe = config.NumExperts > 1 && layers > config.ExpertLayerOffset ? (layers - 1 - config.ExpertLayerOffset) / config.ExpertLayerPeriod + 1 : 0;
            long mamba = h * 2 * d + d * (r + 2 * n) + r * d + d * h;
            long mlp = ParameterCount.MlpParameters(config);
            return attention * ParameterCount.AttentionLayer(config) + (layers - attention) * mamba + moe * config.NumExperts * mlp + (layers - moe) * mlp;
        }
    }

    /// <summary>
    /// Throws when the parameters of <paramref name="config"/>'s network in <paramref name="dtype"/> exceed the
    /// available memory; does nothing where that is unknown. Call it before building the network.
    /// </summary>
    /// <exception cref="InsufficientMemoryException">The parameters do not fit; the message gives both figures.</exception>
    public static void EnsureParametersFit(JambaConfig config, ScalarType dtype, ModelHead? head = null)
    {
        long? available = AvailableBytes();
        if (available is null) return;
        long need;
        try { need = ParameterBytes(config, dtype, head); }
        catch (OverflowException)
        {
            throw new InsufficientMemoryException($"the model's parameters need more than 9.2e18 bytes (num_hidden_layers = {config.NumHiddenLayers}, hidden_size = {config.HiddenSize}, vocab_size = {config.VocabSize}); nothing was allocated");
        }
        if (need <= available) return;
        long count = ParameterCount.TotalOf(config, head);
        throw new InsufficientMemoryException(string.Create(CultureInfo.InvariantCulture,
            $"the model's {count:N0} parameters need {Gb(need)} in {dtype} but only {Gb(available.Value)} of memory is available (MemAvailable); nothing was allocated. Check num_hidden_layers = {config.NumHiddenLayers}, hidden_size = {config.HiddenSize}, num_experts = {config.NumExperts}, or use a smaller dtype"));
    }

    private static string Gb(long bytes) => bytes >= 1_000_000_000
        ? string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e9:0.##} GB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:0.##} MB");

    private static long ElementSize(ScalarType t) => t switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Int16 => 2,
        _ => 1,
    };
}
