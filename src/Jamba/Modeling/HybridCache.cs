using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Modeling;

/// <summary>
/// The state a Jamba model carries between decode steps: a key/value cache for the attention layers only, and
/// the rolling convolution window plus the SSM state for the Mamba layers. Because only a few layers attend,
/// the KV part is a fraction of a Transformer's; the Mamba part does not grow with the context at all.
/// The KV buffers are preallocated and grow by doubling, so a decode step never concatenates tensors.
/// </summary>
public sealed class HybridCache : IDisposable
{
    private readonly KvCache?[] kv;
    private readonly MambaState?[] mamba;
    private Tensor mask;   // (B, capacity) 1 for real tokens, 0 for padding; the first SeqLen columns are valid
    private long maskCapacity;

    /// <summary>Rows in the batch.</summary>
    public long Batch { get; }
    /// <summary>Positions processed so far (padding included).</summary>
    public long SeqLen { get; private set; }
    /// <summary>The dtype of the KV entries and conv windows: the model's (the SSM states are always float32).</summary>
    public ScalarType DType { get; }
    /// <summary>Where the cache lives: the model's device.</summary>
    public Device Device { get; }

    /// <summary>Creates an empty cache for <paramref name="batch"/> rows, preallocating room for <paramref name="capacity"/> positions.</summary>
    public HybridCache(JambaConfig config, long batch, long capacity = 256, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        device ??= CPU;
        Batch = batch;
        DType = dtype;
        Device = device;
        capacity = Math.Max(1, capacity);
        kv = new KvCache?[config.NumHiddenLayers];
        mamba = new MambaState?[config.NumHiddenLayers];
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            if (config.LayerKindAt(i) == LayerKind.Attention)
                kv[i] = new KvCache(batch, config.NumKeyValueHeads, config.HeadDim, capacity, device, dtype);
            else
                mamba[i] = new MambaState(batch, config.MambaDInner, config.MambaDConv, config.MambaDState, device, dtype);
        }
        mask = ones(batch, capacity, dtype: ScalarType.Float32, device: device).DetachFromDisposeScope();
        maskCapacity = capacity;
    }

    /// <summary>The KV cache of attention layer <paramref name="layer"/>.</summary>
    public KvCache Kv(int layer) => kv[layer] ?? throw new InvalidOperationException($"layer {layer} is not an attention layer");
    /// <summary>The conv and SSM state of Mamba layer <paramref name="layer"/>.</summary>
    public MambaState Mamba(int layer) => mamba[layer] ?? throw new InvalidOperationException($"layer {layer} is not a Mamba layer");

    /// <summary>Whether any position seen so far is padding (then every later attention step needs a key mask).</summary>
    public bool HasPadding { get; private set; }

    /// <summary>
    /// Records the padding mask of <paramref name="incomingLength"/> new positions (null: all real) and returns the
    /// key mask [B, SeqLen + incomingLength] over every position, or null while nothing has been padded.
    /// </summary>
    internal Tensor? KeyMask(Tensor? incoming, long incomingLength, bool incomingPadded)
    {
        EnsureMaskCapacity(SeqLen + incomingLength);
        if (incoming is not null && incomingPadded)
        {
            using var fresh = mask.narrow(1, SeqLen, incomingLength);
            fresh.copy_(incoming);
        }
        // All real (a decode step's position): written in place on CPU, where a narrow-and-fill would be two libtorch
        // calls and a tensor wrapper, a noticeable share of a small model's step.
        else if (Device.type == DeviceType.CPU) MarkReal(incomingLength);
        else
        {
            using var fresh = mask.narrow(1, SeqLen, incomingLength);
            fresh.fill_(1);
        }
        HasPadding |= incomingPadded;
        return HasPadding ? mask.narrow(1, 0, SeqLen + incomingLength) : null;
    }

    /// <summary>
    /// The padding mask buffer (B, capacity), float32, 1 for real tokens and 0 for padding; its first <see cref="SeqLen"/>
    /// columns are valid. <see cref="KeyMask"/> may replace it when it grows, so read it afresh each time.
    /// </summary>
    internal Tensor MaskStorage => mask;

    /// <summary>
    /// Marks <paramref name="length"/> more positions as processed; called once per forward after every layer ran,
    /// so every Mamba layer's state now holds them.
    /// </summary>
    internal void Advance(long length)
    {
        SeqLen += length;
        foreach (var m in mamba) if (m is not null) m.HasState = true;
    }

    /// <summary>
    /// Copies the recurrent state of every Mamba layer (conv window and SSM state) and the current length. A Mamba
    /// state cannot be rolled back, so a caller that wants to continue from this point later (a chat's next turn
    /// extending this prompt) keeps the copy and hands it to <see cref="Restore"/>; the KV part needs no copy, it is
    /// simply truncated.
    /// </summary>
    public HybridCacheSnapshot Snapshot()
    {
        var conv = new Tensor?[mamba.Length];
        var ssm = new Tensor?[mamba.Length];
        var hasState = new bool[mamba.Length];
        for (int i = 0; i < mamba.Length; i++)
        {
            if (mamba[i] is not { } m) continue;
            conv[i] = m.Conv.clone().DetachFromDisposeScope();
            ssm[i] = m.Ssm.clone().DetachFromDisposeScope();
            hasState[i] = m.HasState;
        }
        return new HybridCacheSnapshot(SeqLen, conv, ssm, hasState);
    }

    /// <summary>
    /// Returns the cache to the moment <paramref name="snapshot"/> was taken: the KV entries after its length are
    /// dropped (their buffers are kept and overwritten later) and every Mamba state is copied back.
    /// </summary>
    /// <exception cref="InvalidOperationException">The cache holds fewer positions than the snapshot, or the snapshot is of another layer plan.</exception>
    public void Restore(HybridCacheSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.SeqLen > SeqLen)
            throw new InvalidOperationException($"cannot restore a snapshot of {snapshot.SeqLen} positions into a cache of {SeqLen}: the KV entries after {SeqLen} are gone");
        if (snapshot.LayerCount != mamba.Length)
            throw new InvalidOperationException($"the snapshot has {snapshot.LayerCount} layers, the cache {mamba.Length}");
        for (int i = 0; i < mamba.Length; i++)
        {
            if (mamba[i] is not { } m) continue;
            m.Conv.copy_(snapshot.Conv(i));
            m.Ssm.copy_(snapshot.Ssm(i));
            m.HasState = snapshot.HasState(i);
        }
        foreach (var c in kv) c?.Truncate(snapshot.SeqLen);
        SeqLen = snapshot.SeqLen;
    }

    /// <summary>Bytes held by the attention KV buffers, counted at the current length (what the cache needs).</summary>
    public long KvBytesUsed => kv.Where(c => c is not null).Sum(c => c!.BytesUsed);
    /// <summary>Bytes held by the Mamba conv and SSM states.</summary>
    public long MambaStateBytes => mamba.Where(m => m is not null).Sum(m => m!.Bytes);
    /// <summary>Bytes allocated for the cache (KV buffers at capacity plus Mamba states).</summary>
    public long BytesAllocated => kv.Where(c => c is not null).Sum(c => c!.BytesAllocated) + MambaStateBytes;

    private void MarkReal(long length)
    {
        // The mask is a contiguous float32 CPU buffer here; its bytes are written in place.
        var m = MemoryMarshal.Cast<byte, float>(mask.bytes);
        for (long r = 0; r < Batch; r++)
            m.Slice((int)(r * maskCapacity + SeqLen), (int)length).Fill(1f);
    }

    private void EnsureMaskCapacity(long needed)
    {
        if (needed <= maskCapacity) return;
        long cap = Math.Max(needed, 2 * maskCapacity);
        var grown = ones(Batch, cap, dtype: ScalarType.Float32, device: mask.device).DetachFromDisposeScope();
        grown.narrow(1, 0, SeqLen).copy_(mask.narrow(1, 0, SeqLen));
        mask.Dispose();
        mask = grown;
        maskCapacity = cap;
    }

    /// <summary>Frees every buffer.</summary>
    public void Dispose()
    {
        foreach (var c in kv) c?.Dispose();
        foreach (var m in mamba) m?.Dispose();
        mask.Dispose();
    }
}

/// <summary>Preallocated keys and values of one attention layer, [batch, kv_heads, capacity, head_dim], grown by doubling.</summary>
public sealed class KvCache : IDisposable
{
    private Tensor keys, values;

    /// <summary>Positions stored.</summary>
    public long Length { get; private set; }
    /// <summary>Positions that fit before the next growth.</summary>
    public long Capacity => keys.size(2);

    internal KvCache(long batch, long kvHeads, long headDim, long capacity, Device device, ScalarType dtype)
    {
        keys = zeros(batch, kvHeads, capacity, headDim, dtype: dtype, device: device).DetachFromDisposeScope();
        values = zeros(batch, kvHeads, capacity, headDim, dtype: dtype, device: device).DetachFromDisposeScope();
    }

    /// <summary>
    /// Writes k, v [batch, kv_heads, T, head_dim] after the stored positions and returns views of all
    /// positions so far. The views alias the buffers: use them before the next append.
    /// </summary>
    public (Tensor keys, Tensor values) Append(Tensor k, Tensor v)
    {
        var (allKeys, allValues, length) = AppendInPlace(k, v);
        return (allKeys.narrow(2, 0, length), allValues.narrow(2, 0, length));
    }

    /// <summary>
    /// Writes k, v like <see cref="Append"/> and returns the whole buffers [batch, kv_heads, capacity, head_dim]
    /// with the number of positions now stored, for kernels that read the used part in place.
    /// </summary>
    public (Tensor keys, Tensor values, long length) AppendInPlace(Tensor k, Tensor v)
    {
        long t = k.size(2);
        Reserve(t);
        keys.narrow(2, Length, t).copy_(k);
        values.narrow(2, Length, t).copy_(v);
        Length += t;
        return (keys, values, Length);
    }

    /// <summary>The buffers [batch, kv_heads, capacity, head_dim], for kernels that write and read them in place.</summary>
    internal (Tensor keys, Tensor values) Storage => (keys, values);

    /// <summary>Grows the buffers, if needed, so that <paramref name="t"/> more positions fit.</summary>
    internal void Reserve(long t)
    {
        if (Length + t > Capacity) Grow(Math.Max(Length + t, 2 * Capacity));
    }

    /// <summary>Forgets every position from <paramref name="length"/> on (the buffers stay; later appends overwrite them).</summary>
    internal void Truncate(long length)
    {
        if (length < 0 || length > Length) throw new ArgumentOutOfRangeException(nameof(length), length, $"must be in 0..{Length}");
        Length = length;
    }

    /// <summary>Counts <paramref name="t"/> positions written into <see cref="Storage"/> directly as stored.</summary>
    internal void Commit(long t)
    {
        if (Length + t > Capacity) throw new InvalidOperationException($"KV cache: committing {t} positions past its capacity {Capacity}");
        Length += t;
    }

    private void Grow(long capacity)
    {
        var shape = (long[])keys.shape.Clone();
        shape[2] = capacity;
        var k2 = zeros(shape, dtype: keys.dtype, device: keys.device).DetachFromDisposeScope();
        var v2 = zeros(shape, dtype: values.dtype, device: values.device).DetachFromDisposeScope();
        k2.narrow(2, 0, Length).copy_(keys.narrow(2, 0, Length));
        v2.narrow(2, 0, Length).copy_(values.narrow(2, 0, Length));
        keys.Dispose(); values.Dispose();
        keys = k2; values = v2;
    }

    /// <summary>Bytes of the stored positions (keys and values).</summary>
    public long BytesUsed => 2 * keys.size(0) * keys.size(1) * Length * keys.size(3) * keys.ElementSize;
    /// <summary>Bytes allocated (keys and values at capacity).</summary>
    public long BytesAllocated => 2 * keys.numel() * keys.ElementSize;

    /// <summary>Frees the buffers.</summary>
    public void Dispose() { keys.Dispose(); values.Dispose(); }
}

/// <summary>
/// The recurrent state of one Mamba layer: the last d_conv inputs of the convolution [batch, d_inner, d_conv]
/// (model dtype) and the SSM state [batch, d_inner, d_state] (always float32, as the scan accumulates in it).
/// </summary>
public sealed class MambaState : IDisposable
{
    /// <summary>Rolling convolution window; the last column is the most recent input.</summary>
    public Tensor Conv { get; }
    /// <summary>SSM state h.</summary>
    public Tensor Ssm { get; }
    /// <summary>False until a forward has written the state.</summary>
    public bool HasState { get; internal set; }

    internal MambaState(long batch, long dInner, long dConv, long dState, Device device, ScalarType dtype)
    {
        Conv = zeros(batch, dInner, dConv, dtype: dtype, device: device).DetachFromDisposeScope();
        Ssm = zeros(batch, dInner, dState, dtype: ScalarType.Float32, device: device).DetachFromDisposeScope();
    }

    /// <summary>Bytes of both states.</summary>
    public long Bytes => Conv.numel() * Conv.ElementSize + Ssm.numel() * Ssm.ElementSize;

    /// <summary>Frees the states.</summary>
    public void Dispose() { Conv.Dispose(); Ssm.Dispose(); }
}

/// <summary>
/// The Mamba states and the length of a <see cref="HybridCache"/> at one moment (<see cref="HybridCache.Snapshot"/>),
/// to return to with <see cref="HybridCache.Restore"/>. Owns copies of the states.
/// </summary>
public sealed class HybridCacheSnapshot : IDisposable
{
    private readonly Tensor?[] conv, ssm;
    private readonly bool[] hasState;

    internal HybridCacheSnapshot(long seqLen, Tensor?[] conv, Tensor?[] ssm, bool[] hasState)
    {
        SeqLen = seqLen;
        this.conv = conv;
        this.ssm = ssm;
        this.hasState = hasState;
    }

    /// <summary>Positions the cache held when the snapshot was taken.</summary>
    public long SeqLen { get; }
    /// <summary>Bytes of the copied states.</summary>
    public long Bytes => conv.Concat(ssm).Sum(t => t is null ? 0 : t.numel() * t.ElementSize);

    internal int LayerCount => conv.Length;
    internal Tensor Conv(int layer) => conv[layer]!;
    internal Tensor Ssm(int layer) => ssm[layer]!;
    internal bool HasState(int layer) => hasState[layer];

    /// <summary>Frees the copies.</summary>
    public void Dispose()
    {
        foreach (var t in conv) t?.Dispose();
        foreach (var t in ssm) t?.Dispose();
    }
}
