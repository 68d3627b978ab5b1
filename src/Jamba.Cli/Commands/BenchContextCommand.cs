using System.CommandLine;
using System.Globalization;
using System.Text;
using Jamba.Lab.Experiments;
using Jamba.Planning;
using Jamba.Lab.Plotting;

namespace Jamba.Cli.Commands;

/// <summary>
/// `jamba bench context`: decode tokens/s and memory from 1K to 32K context for a hybrid and its pure-attention and
/// pure-Mamba twins of equal active parameters; a table, a CSV and two PNG plots.
/// </summary>
internal sealed class BenchContextCommand : JambaCommand
{
    private readonly ModelArgs modelArgs;
    private readonly Option<string?> preset = CliOption.Text("--preset", "NAME", "base config (default small: 8 layers, attention:Mamba 1:7, MoE 8 experts top-2)");
    private readonly Option<int[]?> contexts = CliOption.Create<int[]?>("--contexts", "LIST",
        "comma-separated context lengths, K for 1024 (default 1024,2048,4096,8192,16384,32768)", ParseContexts);
    private readonly Option<int?> newTokens = CliOption.OptionalInt("--new-tokens", "N", "timed decode steps per context after one warm-up step; speed = 1 / median step (default 64)", 1);
    private readonly Option<string> fill = CliOption.Choice("--fill", "MODE",
        "synthetic: random keys/values/states written into the cache (decode cost does not depend on their values); prefill: a real chunked prefill of random tokens, timed separately",
        "synthetic", "synthetic", "prefill");
    private readonly Option<int> prefillChunk = CliOption.Int("--prefill-chunk", "C", "positions per prefill forward", 1024, 1);
    private readonly Option<long> seed = CliOption.Long("--seed", "S", "seed of the random weights", 0);
    private readonly Option<string> output = CliOption.Text("--out", "DIR", "where the CSV and plots go", "bench-context");
    private readonly Option<bool> quick = CliOption.Flag("--quick", "contexts 1024,8192,32768 and 6 decode steps (about a minute on 2 cores)");

    public BenchContextCommand() : base("context", "decode speed and memory vs context: hybrid, pure attention, pure Mamba at equal active params",
        "Times batch-1 greedy decoding at each context for three models with the same active parameters: the hybrid\n" +
        "(the checkpoint's or the preset's config), its pure-attention twin and its pure-Mamba twin (random weights:\n" +
        "speed does not depend on them). Writes context.csv and PNG plots of tokens/s (wall), tokens per CPU-second and\n" +
        "cache memory against context. On a shared machine compare CPU time: wall time also counts waiting for a core.")
    {
        modelArgs = new ModelArgs(this, modelRequired: false, dtypeDescription: "f32 or bf16", device: false,
            modelDescription: "a checkpoint folder: its config and weights are the hybrid");
        foreach (var option in new Option[] { preset, contexts, newTokens, fill, prefillChunk, seed, output, quick })
            Options.Add(option);
        CliOption.AtMostOneOf(this, modelArgs.Model, preset);
    }

    protected override int Run(ParseResult parse)
    {
        var modelOptions = modelArgs.ModelOptions(parse);
        bool quick = parse.GetValue(this.quick);
        var options = new ContextBenchmarkOptions
        {
            Contexts = parse.GivenValue(contexts) ?? (quick ? new[] { 1024, 8192, 32768 } : new[] { 1024, 2048, 4096, 8192, 16384, 32768 }),
            NewTokens = parse.GetValue(newTokens) ?? (quick ? 6 : 64),
            Fill = parse.GetValue(fill) == "prefill" ? CacheFill.Prefill : CacheFill.Synthetic,
            PrefillChunk = parse.GetValue(prefillChunk),
            Seed = parse.GetValue(seed),
            Progress = line => Console.Error.WriteLine(line),
        };
        string outDir = parse.GetValue(output)!;
        List<ContextBenchmarkRow> rows;

        JambaModel? loaded = parse.GetValue(modelArgs.Model) is string dir ? JambaModel.Load(dir, modelOptions) : null;
        var baseConfig = loaded?.Config ?? Presets.FromName(parse.GetValue(preset) ?? "small");
        string source = parse.GetValue(modelArgs.Model) ?? "preset " + (parse.GetValue(preset) ?? "small");
        Console.WriteLine($"jamba bench context — {source}; {MachineInfo.Describe()}");
        Console.WriteLine($"fill {options.Fill.ToString().ToLowerInvariant()}, {options.NewTokens} timed decode steps per context, batch 1, {modelOptions.DType}");

        var models = new List<(string Label, JambaModel Model)>();
        try
        {
            foreach (var (label, config) in MixerVariants.EqualActive(baseConfig))
            {
                var count = ParameterCount.Of(config);
                Console.Error.WriteLine($"{label}: {config.LayerMap()}, {Units.Params(count.Total)} total, {Units.Params(count.Active)} active");
                // The hybrid of --model keeps its weights; the twins (and presets) get random ones.
                var model = loaded is not null && models.Count == 0 ? loaded : JambaModel.Create(config, modelOptions, options.Seed);
                models.Add((label, model));
                if (model.CausalLM is null) throw new UsageException("the model is a classifier; bench context needs a causal LM");
            }
            rows = ContextBenchmark.Run(models.Select(m => (m.Label, m.Model.CausalLM!)).ToList(), options).ToList();
        }
        finally
        {
            foreach (var (_, m) in models) m.Dispose();
            if (loaded is not null && !models.Any(m => ReferenceEquals(m.Model, loaded))) loaded.Dispose();
        }

        PrintTable(rows, options);
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "context.csv"), Csv(rows));
        Plot(rows, r => r.DecodeTokensPerSecond, "decode tokens/s", $"Decode speed vs context ({source}, batch 1)").SavePng(Path.Combine(outDir, "context-tokens-per-second.png"));
        Plot(rows, r => 1 / r.CpuSecondsPerToken, "decode tokens per CPU-second", $"Decode work vs context ({source}, batch 1)").SavePng(Path.Combine(outDir, "context-tokens-per-cpu-second.png"));
        Plot(rows, r => r.CacheBytes / 1048576.0, "KV cache + Mamba state (MiB)", $"Cache memory vs context ({source}, {modelOptions.DType})").SavePng(Path.Combine(outDir, "context-memory.png"));
        Console.WriteLine($"\nwrote {Path.Combine(outDir, "context.csv")}, context-tokens-per-second.png, context-tokens-per-cpu-second.png, context-memory.png");
        return 0;
    }

    private static int[] ParseContexts(string list)
    {
        try
        {
            var values = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => int.Parse(s.EndsWith('K') || s.EndsWith('k') ? s[..^1] : s, CultureInfo.InvariantCulture) * (s.EndsWith('K') || s.EndsWith('k') ? 1024 : 1)).ToArray();
            if (values.Length == 0 || values.Any(v => v < 1)) throw new FormatException();
            return values;
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"--contexts must be positive integers separated by commas (e.g. 1024,4096 or 1K,4K), got '{list}'");
        }
    }

    private static void PrintTable(List<ContextBenchmarkRow> rows, ContextBenchmarkOptions options)
    {
        string fillHeader = options.Fill == CacheFill.Prefill ? "prefill s" : "fill s";
        Console.WriteLine();
        Console.WriteLine($"{"model",-16} {"context",8} {"tokens/s",9} {"ms/token",9} {"CPU ms/tok",10} {fillHeader,9} {"KV MiB",9} {"Mamba MiB",9} {"RSS +MiB",9} {"RSS MiB",8}");
        foreach (var r in rows)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Model,-16} {r.Context,8} {r.DecodeTokensPerSecond,9:F2} {r.MillisecondsPerToken,9:F1} {r.CpuSecondsPerToken * 1000,10:F1} {r.FillSeconds,9:F1} {r.KvBytes / 1048576.0,9:F1} {r.MambaStateBytes / 1048576.0,9:F2} {r.ResidentDeltaBytes / 1048576.0,9:F1} {r.ResidentBytes / 1048576.0,8:F0}"));

        int longest = rows.Max(r => r.Context);
        var at = rows.Where(r => r.Context == longest).ToList();
        var hybrid = at[0];
        var attention = at.FirstOrDefault(r => r.Model == "pure attention");
        var mamba = at.FirstOrDefault(r => r.Model == "pure Mamba");
        Console.WriteLine();
        if (attention is not null)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"at {longest:N0} tokens: {hybrid.Model} decodes {hybrid.DecodeTokensPerSecond / attention.DecodeTokensPerSecond:F2}x as fast as pure attention (wall), {attention.CpuSecondsPerToken / hybrid.CpuSecondsPerToken:F2}x by CPU time per token; its KV cache is 1/{(double)attention.KvBytes / Math.Max(1, hybrid.KvBytes):F1} of pure attention's"));
        if (mamba is not null)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"at {longest:N0} tokens: pure Mamba decodes {mamba.DecodeTokensPerSecond / hybrid.DecodeTokensPerSecond:F2}x as fast as {hybrid.Model} (wall), {hybrid.CpuSecondsPerToken / mamba.CpuSecondsPerToken:F2}x by CPU time (no KV cache; state {mamba.MambaStateBytes / 1048576.0:F2} MiB)"));
    }

    private static string Csv(List<ContextBenchmarkRow> rows)
    {
        var sb = new StringBuilder("model,context,decode_tokens_per_s,ms_per_token,cpu_ms_per_token,fill_s,prefilled,kv_bytes,mamba_state_bytes,resident_delta_bytes,resident_bytes\n");
        foreach (var r in rows)
            sb.Append(string.Create(CultureInfo.InvariantCulture,
                $"{r.Model},{r.Context},{r.DecodeTokensPerSecond:G6},{r.MillisecondsPerToken:G6},{r.CpuSecondsPerToken * 1000:G6},{r.FillSeconds:G6},{(r.Prefilled ? 1 : 0)},{r.KvBytes},{r.MambaStateBytes},{r.ResidentDeltaBytes},{r.ResidentBytes}\n"));
        return sb.ToString();
    }

    private static LinePlot Plot(List<ContextBenchmarkRow> rows, Func<ContextBenchmarkRow, double> y, string yLabel, string title)
    {
        var plot = new LinePlot { Title = title, XLabel = "context (K tokens)", YLabel = yLabel };
        foreach (var group in rows.GroupBy(r => r.Model))
            plot.Add(group.Key, group.Select(r => r.Context / 1024.0).ToArray(), group.Select(y).ToArray(), markers: true);
        return plot;
    }
}
