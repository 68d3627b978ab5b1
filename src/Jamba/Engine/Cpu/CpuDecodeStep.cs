using System.Numerics;
using System.Buffers;
using System.Runtime.CompilerServices;
using Jamba.Engine.Cpu.Kernels;
using Jamba.Modeling;
using Jamba.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using BFloat16 = Jamba.Engine.Cpu.Kernels.BFloat16;

namespace Jamba.Engine.Cpu;

/// <summary>
/// One decode step of the whole model — a token per row through every layer and the head — run on host memory
/// by the CPU kernels, with activations in float32 scratch instead of tensors. The Modeling forward issues some two
/// hundred libtorch calls per step, each with its own dispatch and allocation, which at batch 1 is a large share of
/// the time the weights take to stream; here the only tensor created is the logits.
/// <para>
/// The formulas are the Modeling layers', kernel for kernel (<see cref="DecodeLinearCpu"/>, <see cref="MambaStepCpu"/>,
/// <see cref="DecodeAttentionCpu"/>, <see cref="SwiGluCpu"/>, <see cref="RmsNormCpu"/>), and a bfloat16 model's
/// activations are rounded to bfloat16 wherever the Modeling forward stores a bfloat16 tensor. The reference it must
/// equal is <see cref="JambaForCausalLM.Forward"/>: the products sum in another order than libtorch's, so the two agree
/// within rounding, not to the bit. The Modeling forward serves every case this one does not take (see <see cref="Applies"/>).
/// </para>
/// <para>
/// Its methods, and the kernels' entry points it calls, are compiled fully optimised on first use
/// (<c>AggressiveOptimization</c>): under tiered compilation a method called once per token would run unoptimised
/// code, its vector helpers not inlined, for a generation's first tokens and then until the background compiler
/// gets to it.
/// </para>
/// </summary>
internal static unsafe class CpuDecodeStep
{
    /// <summary>
    /// Most rows a step takes. Every product reads each weight row once and dots it with all rows while it is in L1,
    /// so a batch costs little more weight traffic than one row.
    /// </summary>
    public const int MaxRows = 16;

    /// <summary>
    /// Whether a step of <paramref name="rows"/> tokens can run here: CPU, float32 or bfloat16 (the projections plain
    /// or weight-only quantized, see <see cref="QuantizedLinearCpu"/>), eval mode without
    /// gradients, at most <see cref="MaxRows"/> rows, a cache of that batch whose Mamba states have been
    /// written (a prefill ran). Left-padded prompts are fine: attention then masks the padded positions, as the Modeling
    /// forward's key-padding bias does (the new token is real in every row).
    /// </summary>
    public static bool Applies(JambaForCausalLM model, HybridCache cache, long rows)
    {
        if (model.Device.type != DeviceType.CPU || model.DType is not (ScalarType.Float32 or ScalarType.BFloat16)) return false;
        if (model.training || is_grad_enabled() || rows < 1 || rows > MaxRows || cache.Batch != rows) return false;
        if (cache.HasPadding && (cache.MaskStorage.device_type != DeviceType.CPU || !cache.MaskStorage.is_contiguous())) return false;
        var config = model.Config;
        for (int l = 0; l < config.NumHiddenLayers; l++)
            if (config.LayerKindAt(l) == LayerKind.Mamba && !cache.Mamba(l).HasState) return false;
        return true;
    }

    /// <summary>
    /// Runs the step for <paramref name="tokens"/> (one per row) and advances <paramref name="cache"/>; returns float32
    /// logits [rows, 1, vocab], or null — with the cache untouched — when a tensor is not in the layout the kernels
    /// read (another dtype, not contiguous), so the caller takes the Modeling forward.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static Tensor? Run(JambaForCausalLM model, long[] tokens, HybridCache cache)
    {
        var config = model.Config;
        int rows = tokens.Length, hidden = config.HiddenSize, threads = CpuKernelSupport.Threads;
        var dtype = model.DType;
        bool bf16 = dtype == ScalarType.BFloat16;
        foreach (long t in tokens)
            if (t < 0 || t >= config.VocabSize) throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {t} is outside the vocabulary [0, {config.VocabSize})");
        // The parameters' and states' pointers from the last step with this cache, if every one is still the tensor it
        // was; else gathered anew.
        var layers = model.model.layers;
        var plans = new LayerPlan[layers.Count];
        bool innerNorms = config.MambaInnerLayerNorms;
        void* embed = null, finalNorm = null;
        Projection head = default;
        bool Walk(Weights w)
        {
            // TorchSharp's Embedding hands out a new wrapper of its weight on every read, so the embedding (and a head
            // tied to it) is recognised by its data pointer instead of by reference.
            embed = w.GetByData(model.model.embed_tokens.weight!); finalNorm = w.Get(model.model.final_layernorm.weight);
            head = model.lm_head is { } lmHead ? w.Projection(lmHead) : new Projection(embed, default, null);
            for (int l = 0; l < layers.Count; l++)
                if (!LayerPlan.TryCreate(layers[l], cache, w, config, innerNorms, out plans[l])) return false;
            return w.Complete;
        }
        if (cache.DType != dtype) return null;
        bool reused = Recorded.TryGetValue(cache, out var last) && ReferenceEquals(last.Model, model) && last.DType == dtype && Walk(new Weights(last));
        if (!reused)
        {
            var w = new Weights(dtype);
            if (!Walk(w)) return null;
            last = w.Record(model, NegExpA(plans, config, bf16));
            Recorded.AddOrUpdate(cache, last);
        }
        for (int l = 0; l < plans.Length; l++)
            if (plans[l].Mamba is { } mamba) mamba.Step.A = (float*)Unsafe.AsPointer(ref last!.A[l]![0]);
        // The key bias is built over the cache's positions, which every attention layer must hold.
        if (cache.HasPadding)
            foreach (var p in plans)
                if (p.Kv is not null && p.Kv.Length != cache.SeqLen) return null;
        // Every KV cache gets room for this step before any layer runs, so no buffer is replaced halfway through a step.
        foreach (var p in plans) p.Kv?.Reserve(1);

        var s = new Scratch(config, rows);
        var pool = ArrayPool<float>.Shared;
        var buffer = pool.Rent(s.Size);
        var quantized = ArrayPool<byte>.Shared.Rent(s.QuantizedSize);
        // With padding in the cache, attention's additive key bias [rows, positions + 1]: the most negative finite value
        // of the model's dtype at padded positions (what the Modeling forward's mask holds, widened to float32), 0 elsewhere.
        float[]? keyBias = cache.HasPadding ? pool.Rent(rows * (int)(cache.SeqLen + 1)) : null;
        var logits = empty(new long[] { rows, 1, config.VocabSize }, ScalarType.Float32);
        try
        {
            fixed (float* b = buffer)
            fixed (float* kb = keyBias)
            fixed (byte* qb = quantized)
            {
                s.Bind(b, qb);
                s.KeyBias = kb == null ? null : KeyBias(cache, kb, rows, dtype);
                for (int r = 0; r < rows; r++)
                    Widen(embed, bf16, tokens[r] * hidden, s.H + (long)r * hidden, hidden);
                foreach (var p in plans)
                {
                    Norm(s.H, p.InputNorm, bf16, s.Normed, rows, hidden, (float)config.RmsNormEps);
                    if (p.Attention is not null) Attention(p, config, s, rows, bf16, threads);
                    else Mamba(p, config, s, rows, bf16, threads);
                    AddInto(s.H, s.Mixed, rows * hidden, bf16);
                    Norm(s.H, p.FfNorm, bf16, s.Normed, rows, hidden, (float)config.RmsNormEps);
                    if (p.Moe is not null) Moe(p, s, rows, hidden, bf16, threads);
                    else Swiglu(p.Mlp!, s, s.Normed, s.Mixed, rows, hidden, bf16, threads, null, false);
                    if (bf16) Round(s.Mixed, rows * hidden);
                    AddInto(s.H, s.Mixed, rows * hidden, bf16);
                }
                Norm(s.H, finalNorm, bf16, s.Normed, rows, hidden, (float)config.RmsNormEps);
                Linear(s.Normed, Quantize(s.Normed, rows, hidden, s, head), head, CpuKernelSupport.Ptr(logits), rows, hidden, config.VocabSize, bf16, threads);
            }
        }
        catch
        {
            logits.Dispose();
            throw;
        }
        finally
        {
            pool.Return(buffer);
            ArrayPool<byte>.Shared.Return(quantized);
            if (keyBias is not null) pool.Return(keyBias);
        }
        foreach (var p in plans) p.Kv?.Commit(1);
        cache.KeyMask(null, 1, false);
        cache.Advance(1);
        // The kernels read the parameters through raw pointers; the model (and so every parameter) and the record
        // (and so A) must stay reachable until they are done, even if the caller held the model only through this call.
        GC.KeepAlive(model);
        GC.KeepAlive(last);
        return logits;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Attention(LayerPlan p, JambaConfig config, Scratch s, int rows, bool bf16, int threads)
    {
        int hidden = config.HiddenSize, heads = config.NumAttentionHeads, kvHeads = config.NumKeyValueHeads, d = config.HeadDim;
        var a = p.Attention!;
        // q, k and v read one input: quantized once where any of them takes it as int8.
        var xq = Quantize(s.Normed, rows, hidden, s, a.Q, a.K, a.V);
        Linear(s.Normed, xq, a.Q, s.Q, rows, hidden, heads * d, bf16, threads);
        Linear(s.Normed, xq, a.K, s.K, rows, hidden, kvHeads * d, bf16, threads);
        Linear(s.Normed, xq, a.V, s.V, rows, hidden, kvHeads * d, bf16, threads);
        var kv = p.Kv!;
        long length = kv.Length, capacity = kv.Capacity;
        var (keyBuffer, valueBuffer) = kv.Storage;
        void* keys = bf16 ? CpuKernelSupport.Ptr16(keyBuffer) : CpuKernelSupport.Ptr(keyBuffer);
        void* values = bf16 ? CpuKernelSupport.Ptr16(valueBuffer) : CpuKernelSupport.Ptr(valueBuffer);
        // The new position's keys and values go into the cache buffers [rows, kv_heads, capacity, d] in place.
        for (int r = 0; r < rows; r++)
            for (int g = 0; g < kvHeads; g++)
            {
                long at = ((long)(r * kvHeads + g) * capacity + length) * d, from = (long)(r * kvHeads + g) * d;
                for (int i = 0; i < d; i++)
                {
                    if (bf16)
                    {
                        ((ushort*)keys)[at + i] = BFloat16.FromSingle(s.K[from + i]);
                        ((ushort*)values)[at + i] = BFloat16.FromSingle(s.V[from + i]);
                    }
                    else
                    {
                        ((float*)keys)[at + i] = s.K[from + i];
                        ((float*)values)[at + i] = s.V[from + i];
                    }
                }
            }
        var buffers = new DecodeAttentionBuffers
        {
            Batch = rows, Heads = heads, KvHeads = kvHeads, HeadDim = d, Capacity = (int)capacity, Length = (int)length + 1,
            Scale = (float)(1.0 / Math.Sqrt(d)), Q = s.Q, O = s.Attended, Bias = s.KeyBias,
        };
        if (bf16) { buffers.K16 = (ushort*)keys; buffers.V16 = (ushort*)values; }
        else { buffers.K = (float*)keys; buffers.V = (float*)values; }
        DecodeAttentionCpu.Forward(buffers, threads);
        if (bf16) Round(s.Attended, rows * heads * d);
        Linear(s.Attended, Quantize(s.Attended, rows, heads * d, s, a.O), a.O, s.Mixed, rows, heads * d, hidden, bf16, threads);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Mamba(LayerPlan p, JambaConfig config, Scratch s, int rows, bool bf16, int threads)
    {
        int hidden = config.HiddenSize, channels = config.MambaDInner;
        var m = p.Mamba!;
        Linear(s.Normed, Quantize(s.Normed, rows, hidden, s, m.InProj), m.InProj, s.Projected, rows, hidden, 2 * channels, bf16, threads);
        var step = m.Step;
        step.Batch = rows; step.X = s.Projected; step.Gate = s.Projected + channels; step.XStride = 2 * channels; step.Y = s.Y;
        MambaStepCpu.Step(step, threads);
        if (bf16) Round(s.Y, rows * channels);
        Linear(s.Y, Quantize(s.Y, rows, channels, s, m.OutProj), m.OutProj, s.Mixed, rows, channels, hidden, bf16, threads);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Moe(LayerPlan p, Scratch s, int rows, int hidden, bool bf16, int threads)
    {
        var moe = p.Moe!;
        int experts = moe.Experts.Length;
        Linear(s.Normed, moe.Router, null, s.Router, rows, hidden, experts, bf16, threads);
        new Span<float>(s.Mixed, rows * hidden).Clear();
        int k = moe.TopK;
        Span<int> chosen = stackalloc int[k];
        void** gate = stackalloc void*[k];
        void** up = stackalloc void*[k];
        void** down = stackalloc void*[k];
        bool quantized = moe.Experts[0].Quantized;
        QuantizedMatrix* gateQ = stackalloc QuantizedMatrix[quantized ? k : 0];
        QuantizedMatrix* upQ = stackalloc QuantizedMatrix[quantized ? k : 0];
        QuantizedMatrix* downQ = stackalloc QuantizedMatrix[quantized ? k : 0];
        float* weights = stackalloc float[k];
        // Every expert reads the token's normed row: quantized once for all of them where they take it as int8.
        var xq = Quantize(s.Normed, rows, hidden, s, moe.Experts[0].Gate);
        byte* hq = moe.Experts[0].Down.IntegerActivations ? s.HQ : null;
        for (int r = 0; r < rows; r++)
        {
            RouteToken(new ReadOnlySpan<float>(s.Router + (long)r * experts, experts), chosen, new Span<float>(weights, k));
            for (int j = 0; j < k; j++)
            {
                var expert = moe.Experts[chosen[j]];
                if (quantized) { gateQ[j] = expert.Gate.Quantized; upQ[j] = expert.Up.Quantized; downQ[j] = expert.Down.Quantized; }
                else { gate[j] = expert.Gate.Dense; up[j] = expert.Up.Dense; down[j] = expert.Down.Dense; }
            }
            if (quantized)
            {
                QuantizedSwiGluCpu.ForwardExperts(s.Normed + (long)r * hidden, xq.Rows > 0 ? xq.Slice(r) : default, gateQ, upQ, downQ, weights, k, s.Inter, hq,
                    s.Mixed + (long)r * hidden, hidden, moe.Experts[0].Intermediate, threads);
                continue;
            }
            // All k experts in one pass over their weights (the MLP's intermediate size is every expert's).
            SwiGluCpu.ForwardExperts(s.Normed + (long)r * hidden, gate, up, down, weights, k, bf16, s.Inter, s.Mixed + (long)r * hidden,
                hidden, moe.Experts[0].Intermediate, threads, s.PreparedX, s.PreparedInter);
        }
    }

    /// <summary>
    /// One token's routing on the host, as <see cref="SparseMoeBlock"/> routes: softmax over
    /// all experts (in double), the <paramref name="chosen"/>.Length experts of highest logit (equal logits in expert
    /// order, as topk returns them), and their probabilities as <paramref name="weights"/>, not renormalised.
    /// </summary>
    internal static void RouteToken(ReadOnlySpan<float> logits, Span<int> chosen, Span<float> weights)
    {
        double max = double.MinValue, sum = 0;
        foreach (float l in logits) max = Math.Max(max, l);
        foreach (float l in logits) sum += Math.Exp(l - max);
        for (int j = 0; j < chosen.Length; j++)
        {
            int best = -1;
            for (int e = 0; e < logits.Length; e++)
                if (chosen[..j].IndexOf(e) < 0 && (best < 0 || logits[e] > logits[best])) best = e;
            chosen[j] = best;
            weights[j] = (float)(Math.Exp(logits[best] - max) / sum);
        }
    }


    static void Swiglu(MlpPlan mlp, Scratch s, float* x, float* y, int rows, int hidden, bool bf16, int threads, float* scale, bool accumulate)
    {
        if (mlp.Quantized)
            // Gate and up read one input: quantized once where they take it as int8.
            QuantizedSwiGluCpu.Forward(x, Quantize(x, rows, hidden, s, mlp.Gate), mlp.Gate.Quantized, mlp.Up.Quantized, mlp.Down.Quantized, s.Inter,
                mlp.Down.IntegerActivations ? s.HQ : null, y, scale, accumulate, rows, hidden, mlp.Intermediate, threads);
        else
            SwiGluCpu.Forward(x, mlp.Gate.Dense, mlp.Up.Dense, mlp.Down.Dense, bf16, s.Inter, y, scale, accumulate, rows, hidden, mlp.Intermediate, threads,
                s.PreparedX, s.PreparedInter);
    }

    /// <summary>
    /// Fills <paramref name="bias"/> [rows, SeqLen + 1] from the cache's padding mask: 0 where a position is real, the
    /// dtype's most negative finite value where it is padding; the new position (the last) is real.
    /// </summary>
    static float* KeyBias(HybridCache cache, float* bias, int rows, ScalarType dtype)
    {
        var mask = cache.MaskStorage;
        float* m = CpuKernelSupport.Ptr(mask);
        long capacity = mask.size(1), past = cache.SeqLen, length = past + 1;
        float padded = (float)CausalMask.MinValue(dtype);
        for (int r = 0; r < rows; r++)
        {
            float* row = bias + r * length, real = m + r * capacity;
            for (long j = 0; j < past; j++) row[j] = real[j] > 0.5f ? 0f : padded;
            row[past] = 0f;
        }
        return bias;
    }

    /// <summary>
    /// x [rows, n] quantized to int8 into the step's scratch where one of <paramref name="readers"/> takes integer
    /// activations (its linear quantizes its input: <see cref="QuantizedLinear.QuantizesActivations"/>); else nothing.
    /// </summary>
    static Int8Activations Quantize(float* x, int rows, int n, Scratch s, params ReadOnlySpan<Projection> readers)
    {
        foreach (var p in readers)
            if (p.IntegerActivations) return Int8Activations.Quantize(x, rows, n, s.XQ);
        return default;
    }

    /// <summary>
    /// y = x Wᵀ + b in float32 (a bfloat16 layer's outputs rounded to bfloat16, as its tensor is); a projection that
    /// takes integer activations reads <paramref name="xq"/>, x quantized.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Linear(float* x, Int8Activations xq, Projection p, float* y, int rows, int inF, int outF, bool bf16, int threads)
    {
        if (p.IntegerActivations) QuantizedLinearCpu.Forward(xq, p.Quantized, p.Bias, bf16, y, outF, threads);
        else if (p.IsQuantized) QuantizedLinearCpu.Forward(x, p.Quantized, p.Bias, bf16, y, rows, outF, threads);
        else Linear(x, p.Dense, p.Bias, y, rows, inF, outF, bf16, threads);
    }

    /// <summary>y = x Wᵀ + b for a float32 or bfloat16 weight.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Linear(float* x, void* weight, void* bias, float* y, int rows, int inF, int outF, bool bf16, int threads)
    {
        if (bf16) DecodeLinearCpu.ForwardBF16(x, (ushort*)weight, (ushort*)bias, y, rows, inF, outF, threads);
        else DecodeLinearCpu.ForwardF32(x, (float*)weight, (float*)bias, y, rows, inF, outF, threads);
    }

    /// <summary>RMSNorm of each row, as <see cref="RmsNorm"/> computes it, in float32.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Norm(float* x, void* weight, bool bf16, float* y, int rows, int size, float eps)
    {
        if (!bf16) { RmsNormCpu.ForwardF32(x, (float*)weight, y, rows, size, eps); return; }
        RmsNormCpu.ForwardBF16Widened(x, (ushort*)weight, y, rows, size, eps);
    }

    /// <summary>h += x (rounded to bfloat16 for a bfloat16 model, as the tensor add stores it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void AddInto(float* h, float* x, int n, bool bf16)
    {
        int i = 0, w = Vector<float>.Count;
        for (; i <= n - w; i += w)
        {
            var sum = Vector.Load(h + i) + Vector.Load(x + i);
            (bf16 ? VectorMath.RoundToBFloat16(sum) : sum).Store(h + i);
        }
        for (; i < n; i++) h[i] = bf16 ? BFloat16.ToSingle(BFloat16.FromSingle(h[i] + x[i])) : h[i] + x[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Round(float* x, int n)
    {
        int i = 0, w = Vector<float>.Count;
        for (; i <= n - w; i += w) VectorMath.RoundToBFloat16(Vector.Load(x + i)).Store(x + i);
        for (; i < n; i++) x[i] = BFloat16.ToSingle(BFloat16.FromSingle(x[i]));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Widen(void* source, bool bf16, long offset, float* y, int n)
    {
        if (bf16) BFloat16.Widen((ushort*)source + offset, y, n);
        else new ReadOnlySpan<float>((float*)source + offset, n).CopyTo(new Span<float>(y, n));
    }

    /// <summary>Per cache, the pointers of the last step that used it (see <see cref="Weights"/>).</summary>
    static readonly ConditionalWeakTable<HybridCache, WeightRecord> Recorded = new();

    /// <summary>
    /// The tensors a step read (parameters, then Mamba states), in the order it asked for them, and their pointers;
    /// and per layer the Mamba layers' A = −exp(A_log) (null elsewhere), on the pinned heap so its address holds.
    /// </summary>
    sealed record WeightRecord(JambaForCausalLM Model, ScalarType DType, Tensor?[] Tensors, nint[] Pointers, float[]?[] A);

    /// <summary>
    /// Each Mamba layer's A = −exp(A_log), computed once per record rather than in every step, where its exponentials
    /// were half the recurrence's arithmetic (the same bits: <see cref="MambaStepCpu.NegExp"/> either way). Like the
    /// pointers it belongs to the cache's record: a new cache computes it afresh, and a parameter changed in place
    /// between two steps of one cache would not be seen — nothing in this library changes a model mid-generation.
    /// </summary>
    static float[]?[] NegExpA(LayerPlan[] plans, JambaConfig config, bool bf16)
    {
        var a = new float[]?[plans.Length];
        for (int l = 0; l < plans.Length; l++)
        {
            if (plans[l].Mamba is not { } mamba) continue;
            int channels = config.MambaDInner, n = config.MambaDState;
            a[l] = GC.AllocateUninitializedArray<float>(channels * n, pinned: true);
            fixed (float* p = a[l]) MambaStepCpu.NegExpAll(mamba.Step.ALog, bf16, channels, n, p);
        }
        return a;
    }

    /// <summary>
    /// Raw pointers of the parameters and the Mamba states, checked for the dtype and layout the kernels read.
    /// Gathering them costs a few native calls per tensor, and after a step has streamed the weights through the
    /// caches each of those misses: a noticeable share of a step on a model of a few hundred tensors. So a step's
    /// pointers are recorded with its cache, and the next step with that cache only checks that each module and state
    /// still holds the very tensor recorded (a reference comparison); any other tensor there — the model moved,
    /// cast, or given new parameters — means gathering anew. A tensor whose storage is swapped in place
    /// (<c>set_</c>) keeps its identity and is not noticed: nothing in this library does that. The KV buffers are
    /// not recorded: they are replaced when they grow, and are read afresh every step.
    /// </summary>
    sealed class Weights
    {
        readonly ScalarType dtype;
        readonly WeightRecord? expected;
        readonly List<Tensor?> tensors = new();
        readonly List<nint> pointers = new();
        int index;

        /// <summary>A walk that gathers and checks every pointer.</summary>
        public Weights(ScalarType dtype) => this.dtype = dtype;

        /// <summary>A walk that reuses <paramref name="record"/>'s pointers while the tensors are the recorded ones.</summary>
        public Weights(WeightRecord record) => (dtype, expected) = (record.DType, record);

        public bool Ok { get; private set; } = true;

        /// <summary>The dtype every parameter must have.</summary>
        public ScalarType DType => dtype;

        /// <summary>Every tensor was the expected one (or checked), and a reuse walk met as many as were recorded.</summary>
        public bool Complete => Ok && (expected is null || index == expected.Tensors.Length);

        public WeightRecord Record(JambaForCausalLM model, float[]?[] a) => new(model, dtype, tensors.ToArray(), pointers.ToArray(), a);

        /// <summary>Marks the walk as failed: a layer the kernels do not take (the Modeling forward then runs the step).</summary>
        public void Fail() => Ok = false;

        /// <summary>
        /// A decoder projection: a <see cref="DenseLinear"/>'s (or <c>Linear</c>'s) weight in the model's dtype, or a <see cref="QuantizedLinear"/>'s stored
        /// weight and float32 scales (a q4 group size the kernels do not take fails the walk); the bias in the model's dtype.
        /// </summary>
        public Projection Projection(nn.Module<Tensor, Tensor> module)
        {
            switch (module)
            {
                case DenseLinear l:
                    return new Projection(Get(l.weight), default, Get(l.bias));
                case TorchSharp.Modules.Linear l:
                    return new Projection(Get(l.weight), default, Get(l.bias));
                case QuantizedLinear q:
                    int inF = (int)q.InFeatures;
                    bool q4 = q.Scheme == JambaQuantization.Q4;
                    if (q.InFeatures > int.MaxValue || (q4 && !QuantizedMatrix.SupportsGroup(inF, q.GroupSize))) Ok = false;
                    void* weight = Get(q.weight, q4 ? ScalarType.Byte : ScalarType.Int8);
                    void* scale = Get(q.weight_scale, Quantizer.ScaleDType(q.Scheme));
                    void* bias = Get(q.bias);
                    if (!Ok) return default;
                    var matrix = q4 ? QuantizedMatrix.Q4((byte*)weight, (ushort*)scale, inF, q.GroupSize) : QuantizedMatrix.Int8((sbyte*)weight, (float*)scale, inF);
                    // A layer that quantizes its input with a layout the integer kernels do not take runs in the Modeling forward.
                    if (q.QuantizesActivations && !IntegerDot.Supports(matrix)) { Ok = false; return default; }
                    return new Projection(null, matrix, bias, q.QuantizesActivations);
                default:
                    Ok = false;
                    return default;
            }
        }

        /// <summary>A parameter recognised by where its data lies rather than by its wrapper object.</summary>
        public void* GetByData(Tensor t)
        {
            if (expected is null)
            {
                void* q = Get(t, dtype);
                tensors[^1] = null;      // matched by pointer on reuse
                return q;
            }
            if (t.dtype != dtype || index >= expected.Tensors.Length || expected.Tensors[index] is not null) { Ok = false; return null; }
            void* p = dtype == ScalarType.BFloat16 ? CpuKernelSupport.Ptr16(t) : CpuKernelSupport.Ptr(t);
            if ((nint)p != expected.Pointers[index++]) { Ok = false; return null; }
            return p;
        }

        /// <summary>A parameter: of the model's dtype.</summary>
        public void* Get(Tensor? t) => Get(t, dtype);

        /// <summary>A tensor that must have <paramref name="required"/> dtype (a Mamba state's SSM part is always float32).</summary>
        public void* Get(Tensor? t, ScalarType required)
        {
            if (expected is not null)
            {
                if (index >= expected.Tensors.Length || !ReferenceEquals(expected.Tensors[index], t)) { Ok = false; return null; }
                return (void*)expected.Pointers[index++];
            }
            void* p = null;
            if (t is not null)
            {
                if (t.dtype != required || !t.is_contiguous() || t.device_type != DeviceType.CPU) Ok = false;
                else p = required switch
                {
                    ScalarType.BFloat16 or ScalarType.Float16 => CpuKernelSupport.Ptr16(t),
                    ScalarType.Int8 or ScalarType.Byte => CpuKernelSupport.Ptr8(t),
                    _ => CpuKernelSupport.Ptr(t),
                };
            }
            tensors.Add(t);
            pointers.Add((nint)p);
            return p;
        }
    }

    /// <summary>
    /// A decoder projection's pointers: a float32 or bfloat16 weight (<see cref="Dense"/>), or a weight-only quantized
    /// one (<see cref="Quantized"/>); the bias, if any, in the model's dtype.
    /// </summary>
    readonly struct Projection(void* dense, QuantizedMatrix quantized, void* bias, bool integerActivations = false)
    {
        public readonly void* Dense = dense, Bias = bias;
        public readonly QuantizedMatrix Quantized = quantized;
        /// <summary>The input is quantized to int8 and the product is an <see cref="IntegerDot"/> (a quantized weight only).</summary>
        public readonly bool IntegerActivations = integerActivations;
        public bool IsQuantized => Quantized.Weight != null;
    }

    sealed class MlpPlan
    {
        public Projection Gate, Up, Down;
        public int Intermediate;
        /// <summary>All three projections quantized (else all three are dense: a mixed MLP fails the walk).</summary>
        public bool Quantized;

        public static MlpPlan From(JambaMlp mlp, Weights w, JambaConfig config)
        {
            var plan = new MlpPlan
            {
                Gate = w.Projection(mlp.gate_proj), Up = w.Projection(mlp.up_proj), Down = w.Projection(mlp.down_proj),
                Intermediate = config.IntermediateSize,
            };
            plan.Quantized = plan.Gate.IsQuantized;
            // Gate and up share their int8 input (they read one x, so they quantize it alike).
            if (plan.Up.IntegerActivations != plan.Gate.IntegerActivations) w.Fail();
            if (plan.Up.IsQuantized != plan.Quantized || plan.Down.IsQuantized != plan.Quantized
                || plan.Gate.Bias != null || plan.Up.Bias != null || plan.Down.Bias != null) w.Fail();
            return plan;
        }
    }

    sealed class AttentionPlan
    {
        public Projection Q, K, V, O;
    }

    sealed class MambaPlan
    {
        public Projection InProj, OutProj;
        public MambaStepBuffers Step;
    }

    sealed class MoePlan
    {
        public void* Router;
        public MlpPlan[] Experts = [];
        public int TopK;
    }

    /// <summary>One layer's parameters and cache entries as pointers, gathered (and checked) before the step runs.</summary>
    sealed class LayerPlan
    {
        public void* InputNorm, FfNorm;
        public AttentionPlan? Attention;
        public KvCache? Kv;
        public MambaPlan? Mamba;
        public MlpPlan? Mlp;
        public MoePlan? Moe;

        public static bool TryCreate(JambaDecoderLayer layer, HybridCache cache, Weights w, JambaConfig config, bool innerNorms, out LayerPlan plan)
        {
            var dtype = w.DType;
            plan = new LayerPlan { InputNorm = w.Get(layer.input_layernorm.weight), FfNorm = w.Get(layer.pre_ff_layernorm.weight) };
            if (layer.self_attn is { } a)
            {
                var at = plan.Attention = new AttentionPlan { Q = w.Projection(a.q_proj), K = w.Projection(a.k_proj), V = w.Projection(a.v_proj), O = w.Projection(a.o_proj) };
                plan.Kv = cache.Kv(layer.LayerIndex);
                if (at.Q.Bias != null || at.K.Bias != null || at.V.Bias != null || at.O.Bias != null) return false;
            }
            else
            {
                var m = layer.mamba!;
                var state = cache.Mamba(layer.LayerIndex);
                bool norms = innerNorms;
                var xProj = w.Projection(m.x_proj);
                var dtProj = w.Projection(m.dt_proj);
                if (xProj.Bias != null) return false;
                plan.Mamba = new MambaPlan
                {
                    InProj = w.Projection(m.in_proj), OutProj = w.Projection(m.out_proj),
                    Step = new MambaStepBuffers
                    {
                        Channels = config.MambaDInner, State = config.MambaDState, DtRank = config.MambaDtRank, ConvWidth = config.MambaDConv,
                        ConvState = dtype == ScalarType.Float32 ? (float*)w.Get(state.Conv) : null,
                        ConvState16 = dtype == ScalarType.BFloat16 ? (ushort*)w.Get(state.Conv) : null,
                        SsmState = (float*)w.Get(state.Ssm, ScalarType.Float32),
                        Bf16Params = dtype == ScalarType.BFloat16,
                        ConvWeight = w.Get(m.conv1d.weight), ConvBias = w.Get(m.conv1d.bias), XProj = xProj.Dense, XProjQuantized = xProj.Quantized,
                        XProjInt8Activations = xProj.IntegerActivations, DtProjInt8Activations = dtProj.IntegerActivations,
                        DtNorm = norms ? w.Get(m.dt_layernorm.weight) : null, BNorm = norms ? w.Get(m.b_layernorm.weight) : null,
                        CNorm = norms ? w.Get(m.c_layernorm.weight) : null, Eps = (float)m.dt_layernorm.Eps,
                        DtProj = dtProj.Dense, DtProjQuantized = dtProj.Quantized, DtBias = dtProj.Bias, ALog = w.Get(m.A_log), D = w.Get(m.D),
                    },
                };
            }
            if (layer.feed_forward is SparseMoeBlock moe)
            {
                var experts = moe.experts.Select(e => MlpPlan.From(e, w, config)).ToArray();
                plan.Moe = new MoePlan { Router = w.Get(moe.router.weight), Experts = experts, TopK = moe.TopK };
                if (experts.Any(e => e.Quantized != experts[0].Quantized || e.Gate.IntegerActivations != experts[0].Gate.IntegerActivations
                    || e.Down.IntegerActivations != experts[0].Down.IntegerActivations)) return false;
            }
            else plan.Mlp = MlpPlan.From((JambaMlp)layer.feed_forward, w, config);
            return w.Ok;
        }
    }

    /// <summary>The step's float32 activations, carved from one pooled buffer.</summary>
    sealed class Scratch(JambaConfig c, int rows)
    {
        readonly int hidden = c.HiddenSize, channels = c.MambaDInner, attn = c.NumAttentionHeads * c.HeadDim,
            kv = c.NumKeyValueHeads * c.HeadDim, inter = Math.Max(c.IntermediateSize, 1) * Math.Max(c.NumExpertsPerTok, 1), experts = Math.Max(c.NumExperts, 1);

        public int Size => rows * (3 * hidden + 3 * channels + 2 * attn + 2 * kv + 2 * inter + experts + Math.Max(Math.Max(hidden, channels), inter));

        /// <summary>
        /// Bytes of the int8 forms: an input of any projection [rows, ≤ widest input], and h of an MLP [rows, inter] or
        /// of one token's experts [k, inter].
        /// </summary>
        public int QuantizedSize => (int)(Int8Activations.Bytes(rows, Math.Max(Math.Max(hidden, channels), attn)) + Int8Activations.Bytes(Math.Max(rows, Math.Max(c.NumExpertsPerTok, 1)), Math.Max(c.IntermediateSize, 1)));

        public float* H, Normed, Mixed, Projected, Y, Q, K, V, Attended, Inter, PreparedInter, PreparedX, Router;
        /// <summary>A projection's input as int8 (<see cref="Int8Activations"/>), and an MLP's h.</summary>
        public byte* XQ, HQ;
        /// <summary>Attention's key-padding bias [rows, positions], or null when the cache holds no padding.</summary>
        public float* KeyBias;

        public void Bind(float* b, byte* q)
        {
            XQ = q;
            HQ = q + Int8Activations.Bytes(rows, Math.Max(Math.Max(hidden, channels), attn));
            float* Take(int n) { var p = b; b += (long)rows * n; return p; }
            H = Take(hidden); Normed = Take(hidden); Mixed = Take(hidden); Projected = Take(2 * channels); Y = Take(channels);
            Q = Take(attn); K = Take(kv); V = Take(kv); Attended = Take(attn); Inter = Take(inter); PreparedInter = Take(inter);
            PreparedX = Take(Math.Max(Math.Max(hidden, channels), inter)); Router = Take(experts);
        }
    }
}
