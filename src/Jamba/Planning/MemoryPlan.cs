using TorchSharp;

namespace Jamba.Planning;

/// <summary>Knobs of the activation-workspace estimate used by <see cref="MemoryPlan"/>.</summary>
/// <param name="PrefillChunk">Positions run through the model at once while prefilling (as
/// <see cref="Inference.GenerationOptions.PrefillChunkSize"/>, default 512); bounds the per-token temporaries.</param>
/// <param name="MaterializedAttentionScores">Whether attention materializes the [heads, chunk, context] score matrix
/// (the CPU "math" path of scaled_dot_product_attention does; fused GPU kernels do not).</param>
public sealed record WorkspaceOptions(int PrefillChunk = 512, bool MaterializedAttentionScores = false)
{
    /// <summary>The defaults: chunk 512, fused attention (no score matrix).</summary>
    public static WorkspaceOptions Default { get; } = new();
}

/// <summary>
/// Memory needed to serve a Jamba model: weights, KV cache, Mamba state and an activation workspace, for a batch,
/// a context length and a dtype. All figures are bytes; the cache figures are exact (they equal what
/// <see cref="Modeling.HybridCache"/> allocates), the workspace is an estimate.
/// </summary>
/// <remarks>
/// <para><b>Workspace estimate</b> (per batch row; e = dtype bytes, C = min(prefill chunk, context), S = context,
/// H = hidden, D = d_inner, N = d_state, R = dt_rank, I = intermediate, k = experts per token, E = experts):</para>
/// <para>Layers run one after another and each frees its temporaries when it returns, so the peak is one layer's
/// temporaries, the largest of its mixer and its feed-forward, on top of the residual stream:</para>
/// <list type="bullet">
/// <item>residual stream and norms: 4·H·e per position;</item>
/// <item>Mamba mixer: (5·D + R + 2·N)·e per position for the projections, plus 4·(2·D·N + 4·D) for the float32
/// scan, which materializes exp(ΔA) and ΔB·x as [D, C, N] tensors;</item>
/// <item>attention: (2·H + 2·kv·hd)·e per position for q, k, v and the output; when kv_heads &lt; heads, the keys
/// and values of all S positions expanded to every head, 2·H·S·e; with
/// <see cref="WorkspaceOptions.MaterializedAttentionScores"/>, scores and probabilities 2·heads·C·S·e;</item>
/// <item>feed-forward: 3·I·e per position for a plain MLP; on MoE layers k·(3·I + 2·H)·e (each token's k expert
/// inputs, hidden activations and weighted outputs) plus 2·E·4 for the float32 router probabilities;</item>
/// <item>last-position logits in float32: V·4.</item>
/// </list>
/// <para>Allocator fragmentation, framework overhead and training state (gradients, optimizer) are not modelled:
/// leave headroom in the budget.</para>
/// </remarks>
/// <param name="Config">The model.</param>
/// <param name="Batch">Batch rows.</param>
/// <param name="Context">Positions cached per row (prompt plus generated tokens).</param>
/// <param name="DType">Model dtype (weights, KV cache, conv window, activations).</param>
/// <param name="Convention">How the SSM state is sized.</param>
/// <param name="Weights">Bytes of the parameters.</param>
/// <param name="Kv">Bytes of the KV cache at <paramref name="Context"/>.</param>
/// <param name="MambaState">Bytes of the conv and SSM states.</param>
/// <param name="Workspace">Estimated peak activation bytes.</param>
public sealed record MemoryPlan(JambaConfig Config, long Batch, long Context, torch.ScalarType DType, StateConvention Convention,
    long Weights, long Kv, long MambaState, long Workspace)
{
    /// <summary>Weights plus cache plus workspace.</summary>
    public long Total => Weights + Kv + MambaState + Workspace;

    /// <summary>The cache alone: KV plus Mamba state.</summary>
    public long Cache => Kv + MambaState;

    /// <summary>Plans memory for <paramref name="batch"/> rows of <paramref name="context"/> positions.</summary>
    /// <param name="config">The model.</param>
    /// <param name="batch">Batch rows (≥ 1).</param>
    /// <param name="context">Positions per row (≥ 0).</param>
    /// <param name="dtype">Model dtype.</param>
    /// <param name="options">Workspace knobs; null for <see cref="WorkspaceOptions.Default"/>.</param>
    /// <param name="convention">How the SSM state is sized.</param>
    /// <param name="head">Model head for the weights; null takes it from the config.</param>
    public static MemoryPlan For(JambaConfig config, long batch, long context, torch.ScalarType dtype,
        WorkspaceOptions? options = null, StateConvention convention = StateConvention.AsAllocated, ModelHead? head = null)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "must be at least 1");
        return new MemoryPlan(config, batch, context, dtype, convention,
            WeightBytes(config, dtype, head),
            CacheMemory.KvBytes(config, batch, context, dtype),
            CacheMemory.MambaStateBytes(config, batch, dtype, convention),
            WorkspaceBytes(config, batch, context, dtype, options));
    }

    /// <summary>Bytes of the parameters stored in <paramref name="dtype"/> (every parameter has the model dtype).</summary>
    public static long WeightBytes(JambaConfig config, torch.ScalarType dtype, ModelHead? head = null) =>
        ParameterCount.Of(config, head).Total * CacheMemory.BytesPerElement(dtype);

    /// <summary>The activation-workspace estimate (formula in the type's remarks) for a prefill into a context of <paramref name="context"/>.</summary>
    public static long WorkspaceBytes(JambaConfig config, long batch, long context, torch.ScalarType dtype, WorkspaceOptions? options = null)
    {
        options ??= WorkspaceOptions.Default;
        if (options.PrefillChunk < 1) throw new ArgumentOutOfRangeException(nameof(options), options.PrefillChunk, "prefill chunk must be positive");
        long e = CacheMemory.BytesPerElement(dtype);
        long h = config.HiddenSize, d = config.MambaDInner, n = config.MambaDState, r = config.MambaDtRank;
        long hd = config.HeadDim, kvw = (long)config.NumKeyValueHeads * hd;
        long c = Math.Min(options.PrefillChunk, Math.Max(context, 1)), s = Math.Max(context, 1);

        long residual = 4 * h * e * c;
        long mixer = 0, ff = 0;
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            long m;
            if (config.LayerKindAt(i) == LayerKind.Mamba)
                m = c * ((5 * d + r + 2 * n) * e + 4 * (2 * d * n + 4 * d));
            else
            {
                m = c * (2 * h + 2 * kvw) * e;
                if (config.NumKeyValueHeads != config.NumAttentionHeads) m += 2 * h * s * e;
                if (options.MaterializedAttentionScores) m += 2L * config.NumAttentionHeads * c * s * e;
            }
            int experts = config.ExpertsAt(i);
            long f = experts > 1
                ? c * (Math.Min(config.NumExpertsPerTok, experts) * (3L * config.IntermediateSize + 2 * h) * e + 2L * experts * 4)
                : c * 3L * config.IntermediateSize * e;
            mixer = Math.Max(mixer, m);
            ff = Math.Max(ff, f);
        }
        long logits = 4L * config.VocabSize;
        return checked(batch * (residual + Math.Max(mixer, ff) + logits));
    }

    /// <summary>
    /// The longest context (positions per row) whose <see cref="Total"/> fits in <paramref name="budgetBytes"/> for
    /// <paramref name="batch"/> rows; 0 when not even one position fits. Every term of the plan grows with the
    /// context and with the batch, so the answer grows with the budget and shrinks with the batch.
    /// </summary>
    /// <param name="config">The model.</param>
    /// <param name="budgetBytes">Memory available (e.g. a GPU's memory less what the runtime keeps).</param>
    /// <param name="batch">Batch rows (≥ 1).</param>
    /// <param name="dtype">Model dtype.</param>
    /// <param name="options">Workspace knobs; null for <see cref="WorkspaceOptions.Default"/>.</param>
    /// <param name="convention">How the SSM state is sized.</param>
    /// <param name="limit">The largest context considered; returned when memory does not bound the context
    /// (a pure-Mamba model's cache does not grow).</param>
    public static long MaxContext(JambaConfig config, long budgetBytes, long batch, torch.ScalarType dtype,
        WorkspaceOptions? options = null, StateConvention convention = StateConvention.AsAllocated, long limit = 1L << 32)
    {
        if (limit < 1) throw new ArgumentOutOfRangeException(nameof(limit), limit, "must be positive");
        bool Fits(long ctx) => For(config, batch, ctx, dtype, options, convention).Total <= budgetBytes;
        if (!Fits(1)) return 0;
        if (Fits(limit)) return limit;
        long lo = 1, hi = limit; // Fits(lo), !Fits(hi)
        while (hi - lo > 1)
        {
            long mid = lo + (hi - lo) / 2;
            if (Fits(mid)) lo = mid; else hi = mid;
        }
        return lo;
    }
}
