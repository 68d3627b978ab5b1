using System.CommandLine;
using System.Globalization;
using Jamba.Planning;

namespace Jamba.Cli.Commands;

/// <summary>`jamba plan`: the longest context that fits a memory budget, and the paper's KV-cache table.</summary>
internal sealed class PlanCommand : JambaCommand
{
    private readonly ConfigSourceArgs source;
    private readonly Option<long> memory = CliOption.Create("--memory", "SIZE", "the budget: 80GB, 24GiB, 512MB, or plain bytes", ParseBytes).AsRequired();
    private readonly Option<string> dtype = CliOption.Text("--dtype", "T", "bf16, f16 or f32", "bf16");
    private readonly Option<int?> batch = CliOption.OptionalInt("--batch", "B", "one batch size to plan (default: 1, 2, 4, 8, 16, 32, 64)", 1);
    private readonly Option<long> context = CliOption.Long("--context", "N", "context of the KV table (262144 = 256K)", 262144);
    private readonly Option<int> prefillChunk = CliOption.Int("--prefill-chunk", "N", "positions per prefill chunk in the workspace estimate", 512, 1);

    public PlanCommand() : base("plan", "largest context that fits a memory budget per batch size, and the KV-cache table of the paper",
        "Memory = weights + KV cache + Mamba state + activation workspace of a chunked prefill (formula in\n" +
        "docs/paper-reproduction.md). Units are binary: 80GB = 80 × 2^30 bytes, as the paper counts.")
    {
        source = new ConfigSourceArgs(this);
        Options.Add(memory);
        Options.Add(dtype);
        Options.Add(batch);
        Options.Add(context);
        Options.Add(prefillChunk);
    }

    protected override int Run(ParseResult parse)
    {
        var (config, name) = source.Load(parse);
        long budget = parse.GetValue(memory);
        var dtype = Units.ParseDType(parse.GetValue(this.dtype)!);
        long tableContext = parse.GetValue(context);
        var workspace = new WorkspaceOptions(PrefillChunk: parse.GetValue(prefillChunk));
        var batches = parse.GetValue(batch) is int b1 ? new[] { b1 } : new[] { 1, 2, 4, 8, 16, 32, 64 };

        var weights = MemoryPlan.WeightBytes(config, dtype);
        Console.WriteLine($"{name}: {Units.Params(ParameterCount.Of(config).Total)} parameters, weights {Units.Bytes(weights)} in {Units.DType(dtype)}; budget {Units.Bytes(budget)}");
        Console.WriteLine();
        Console.WriteLine("batch   longest context   KV cache      Mamba state   workspace     total");
        foreach (int b in batches)
        {
            long ctx = MemoryPlan.MaxContext(config, budget, b, dtype, workspace);
            if (ctx == 0) { Console.WriteLine($"{b,5}   does not fit (weights alone: {Units.Bytes(weights)})"); continue; }
            var plan = MemoryPlan.For(config, b, ctx, dtype, workspace);
            string context = ctx >= 1L << 32 ? "unbounded" : ctx.ToString("N0", CultureInfo.InvariantCulture);
            Console.WriteLine($"{b,5}   {context,15}   {Units.Bytes(plan.Kv),-12}  {Units.Bytes(plan.MambaState),-12}  {Units.Bytes(plan.Workspace),-12}  {Units.Bytes(plan.Total)}");
        }

        Console.WriteLine();
        Console.WriteLine($"KV cache at {tableContext:N0} tokens, batch 1, {Units.DType(dtype)} (the paper's Table 1 counts only the KV cache):");
        var rows = new List<(string, JambaConfig)> { (name, config) };
        foreach (var reference in new[] { "llama-2-7b", "mistral-7b", "mixtral-8x7b", "jamba-v0.1" })
            if (!string.Equals(reference, name, StringComparison.OrdinalIgnoreCase)) rows.Add((reference, Presets.FromName(reference)));
        foreach (var (label, c) in rows)
        {
            var count = ParameterCount.Of(c);
            Console.WriteLine($"  {label,-28} {Units.Params(count.Total),9} total {Units.Params(count.Active),9} active   KV {Units.Bytes(CacheMemory.KvBytes(c, 1, tableContext, dtype)),12}   ({CacheMemory.AttentionLayers(c)} attention layers of {c.NumHiddenLayers})");
        }
        return 0;
    }

    /// <summary>Parses 80GB / 80GiB / 512MB / 1024 (bytes). GB and GiB both mean 2^30, as in the paper's table.</summary>
    public static long ParseBytes(string text)
    {
        string s = text.Trim().ToUpperInvariant().Replace("IB", "B");
        (string suffix, long factor)[] units = { ("TB", 1L << 40), ("GB", 1L << 30), ("MB", 1L << 20), ("KB", 1L << 10), ("B", 1) };
        foreach (var (suffix, factor) in units)
            if (s.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(s[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0)
                return (long)(v * factor);
        if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long bytes) && bytes > 0) return bytes;
        throw new UsageException($"--memory: cannot read '{text}' (use e.g. 80GB, 24GiB, 512MB)");
    }
}
