using System.Globalization;
using System.Text;
using TorchSharp;

namespace Jamba.Planning;

/// <summary>Human units for parameter counts and byte sizes.</summary>
public static class Units
{
    /// <summary>Bytes in a GiB (2^30). The Jamba paper's "GB" is this unit: its 4GB / 32GB / 128GB KV figures are exact in GiB.</summary>
    public const long GiB = 1L << 30;
    /// <summary>Bytes in a MiB (2^20).</summary>
    public const long MiB = 1L << 20;
    /// <summary>Bytes in a KiB (2^10).</summary>
    public const long KiB = 1L << 10;

    /// <summary>A parameter count in decimal units, as model sizes are quoted: <c>51.57B</c>, <c>77.36M</c>, <c>950.1K</c>.</summary>
    public static string Params(long count) => count switch
    {
        >= 1_000_000_000 => (count / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + "B",
        >= 1_000_000 => (count / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + "M",
        >= 1_000 => (count / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + "K",
        _ => count.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>A byte size in binary units: <c>4.00 GiB</c>, <c>16.5 MiB</c>, <c>512 B</c>.</summary>
    public static string Bytes(long bytes) => bytes switch
    {
        >= GiB => (bytes / (double)GiB).ToString("0.00", CultureInfo.InvariantCulture) + " GiB",
        >= MiB => (bytes / (double)MiB).ToString("0.0", CultureInfo.InvariantCulture) + " MiB",
        >= KiB => (bytes / (double)KiB).ToString("0.0", CultureInfo.InvariantCulture) + " KiB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };

    /// <summary>A dtype's short name: <c>bf16</c>, <c>f16</c>, <c>f32</c>.</summary>
    public static string DType(torch.ScalarType dtype) => dtype switch
    {
        torch.ScalarType.BFloat16 => "bf16",
        torch.ScalarType.Float16 => "f16",
        torch.ScalarType.Float32 => "f32",
        torch.ScalarType.Float64 => "f64",
        _ => dtype.ToString().ToLowerInvariant(),
    };

    /// <summary>Parses <c>bf16</c>, <c>f16</c>/<c>fp16</c>/<c>half</c>, <c>f32</c>/<c>fp32</c>/<c>float</c> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Not a dtype name.</exception>
    public static torch.ScalarType ParseDType(string name) => name.Trim().ToLowerInvariant() switch
    {
        "bf16" or "bfloat16" => torch.ScalarType.BFloat16,
        "f16" or "fp16" or "float16" or "half" => torch.ScalarType.Float16,
        "f32" or "fp32" or "float32" or "float" => torch.ScalarType.Float32,
        _ => throw new ArgumentException($"unknown dtype '{name}' (bf16, f16, f32)", nameof(name)),
    };
}

/// <summary>The text report <c>jamba info</c> prints: parameters, layer map and cache memory of a config.</summary>
public static class ModelReport
{
    /// <summary>
    /// Builds the report: total and active parameters with their split, the layer map (one line per layer), and the
    /// KV-cache and Mamba-state bytes at <paramref name="context"/> positions in <paramref name="dtype"/>.
    /// </summary>
    /// <param name="config">The model.</param>
    /// <param name="context">Positions per row for the cache figures (default 256K, the paper's comparison point).</param>
    /// <param name="dtype">Dtype of weights and cache (default bf16).</param>
    /// <param name="batch">Batch rows for the cache figures.</param>
    /// <param name="name">A title (e.g. the preset or directory name); null for none.</param>
    public static string Build(JambaConfig config, long context = 262144, torch.ScalarType dtype = torch.ScalarType.BFloat16, long batch = 1, string? name = null)
    {
        var p = ParameterCount.Of(config);
        var sb = new StringBuilder();
        string I(long v) => v.ToString("N0", CultureInfo.InvariantCulture);
        void Line(string s = "") => sb.Append(s).Append('\n');

        Line(name is null ? "Jamba model" : $"Jamba model: {name}");
        Line($"  head:        {(p.Head == ModelHead.CausalLM ? "causal LM" + (config.TieWordEmbeddings ? " (tied to the embedding)" : "") : $"sequence classification, {config.NumLabels} labels")}");
        Line($"  shape:       vocab {config.VocabSize}, hidden {config.HiddenSize}, {config.NumHiddenLayers} layers, " +
             $"{config.NumAttentionHeads} heads / {config.NumKeyValueHeads} KV heads (head_dim {config.HeadDim}), intermediate {config.IntermediateSize}");
        Line($"  mamba:       d_inner {config.MambaDInner}, d_state {config.MambaDState}, d_conv {config.MambaDConv}, dt_rank {config.MambaDtRank}");
        Line($"  moe:         {(config.NumExperts > 1 ? $"{config.NumExperts} experts, top-{config.NumExpertsPerTok}, expert_layer_period {config.ExpertLayerPeriod}, offset {config.ExpertLayerOffset}" : "none")}");
        Line();
        Line("Parameters");
        Line($"  total:       {Units.Params(p.Total),9}  ({I(p.Total)})");
        Line($"  active:      {Units.Params(p.Active),9}  ({I(p.Active)}) per token: top-{config.NumExpertsPerTok} experts of each MoE layer; embedding and head count in full");
        Line($"  embedding:   {Units.Params(p.Embedding),9}");
        if (p.Head == ModelHead.CausalLM) Line($"  lm head:     {Units.Params(p.LmHead),9}{(p.LmHead == 0 ? "  (tied)" : "")}");
        else Line($"  score head:  {Units.Params(p.ScoreHead),9}");
        Line($"  attention:   {Units.Params(p.Attention),9}");
        Line($"  mamba:       {Units.Params(p.Mamba),9}");
        Line($"  mlp:         {Units.Params(p.Mlp),9}");
        Line($"  experts:     {Units.Params(p.MoeExperts),9}  (active {Units.Params(p.ActiveMoeExperts)})");
        Line($"  routers:     {Units.Params(p.Routers),9}");
        Line($"  norms:       {Units.Params(p.Norms),9}");
        Line();
        int attn = CacheMemory.AttentionLayers(config), mamba = CacheMemory.MambaLayers(config);
        int moe = Enumerable.Range(0, config.NumHiddenLayers).Count(config.IsMoeLayer);
        Line($"Layers: {attn} attention, {mamba} Mamba (a:m = {attn}:{mamba}), {moe} MoE");
        Line($"  map: {config.LayerMap()}   (A attention, M Mamba / e MoE, - MLP)");
        foreach (var l in p.Layers)
        {
            string ff = l.IsMoe ? $"MoE {l.Experts}x top-{Math.Min(config.NumExpertsPerTok, l.Experts)}" : "MLP";
            Line($"  {l.Index,3}  {(l.Kind == LayerKind.Attention ? "attention" : "mamba"),-9}  {ff,-14}  {Units.Params(l.Total),9} total  {Units.Params(l.Active),9} active");
        }
        Line();
        long kvPerToken = CacheMemory.KvBytesPerToken(config, dtype);
        long kv = CacheMemory.KvBytes(config, batch, context, dtype);
        long state = CacheMemory.MambaStateBytes(config, batch, dtype);
        long statePaper = CacheMemory.MambaStateBytes(config, batch, dtype, StateConvention.Paper);
        Line($"Cache at {I(context)} positions, batch {batch}, {Units.DType(dtype)} (GiB = 2^30 bytes, the paper's \"GB\")");
        Line($"  KV per token: {Units.Bytes(kvPerToken)} ({I(kvPerToken)} bytes per row: 2 x {attn} layers x {config.NumKeyValueHeads} KV heads x {config.HeadDim} x {CacheMemory.BytesPerElement(dtype)} B)");
        Line($"  KV cache:     {Units.Bytes(kv)} ({I(kv)} bytes)");
        Line($"  Mamba state:  {Units.Bytes(state)} ({I(state)} bytes; SSM state in f32 as allocated; {Units.Bytes(statePaper)} all in {Units.DType(dtype)})");
        Line($"  total cache:  {Units.Bytes(kv + state)}");
        long weights = MemoryPlan.WeightBytes(config, dtype);
        Line($"  weights:      {Units.Bytes(weights)} in {Units.DType(dtype)}");
        return sb.ToString();
    }
}
