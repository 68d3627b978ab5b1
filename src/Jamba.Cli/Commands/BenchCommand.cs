using System.CommandLine;
using System.Globalization;
using Jamba.Lab.Benchmarking;
using TorchSharp;
using Jamba.Quantization;
using Jamba.Runtime;

namespace Jamba.Cli.Commands;

/// <summary>
/// `jamba bench`: model speed (prefill, decode, time to first token, training step) and memory against this
/// machine's ceilings measured in the same run. Its subcommands: `bench kernels`, `bench context`.
/// </summary>
internal sealed class BenchCommand : JambaCommand
{
    private readonly ModelArgs modelArgs;
    private readonly Option<string?> config = CliOption.Text("--config", "FILE", "a config.json with random weights (seed --seed), instead of --model");
    private readonly Option<int> promptTokens = CliOption.Int("--prompt-tokens", "N", "prompt length per row", 2048, 1);
    private readonly Option<int> newTokens = CliOption.Int("--new-tokens", "M", "tokens generated per row", 64, 1);
    private readonly Option<int> batch = CliOption.Int("--batch", "B", "rows", 1, 1);
    private readonly Option<int> runs = CliOption.Int("--runs", "R", "timed runs", 3, 1);
    private readonly Option<int> warmup = CliOption.Int("--warmup", "W", "untimed runs first", 1, 0);
    private readonly Option<int> trainTokens = CliOption.Int("--train-tokens", "N", "training-step tokens (0 skips the training step)", 256, 0);
    private readonly Option<int> prefillChunk = CliOption.Int("--prefill-chunk", "C", "prefill positions per forward pass", 512, 1);
    private readonly Option<long> seed = CliOption.Long("--seed", "S", "seed of the random weights and tokens", 0);
    private readonly Option<bool> noCompare = CliOption.Flag("--no-compare", "skip the side-by-side decode against the same weights in the reference precision (a bf16 model against float32, a quantized one against its --dtype unquantized)");
    private readonly Option<int[]> probePositions = CliOption.Create("--probe-positions", "P",
        "context positions whose decode speed is compared, one cache each, stepped in turn ('none' skips)", ProbePositions).WithDefault(new[] { 20, 2000 });
    private readonly Option<int> probeSteps = CliOption.Int("--probe-steps", "S", "steps timed at each probe position", 40, 1);
    private readonly Option<int> ceilingMib = CliOption.Int("--ceiling-mib", "M", "buffer of the bandwidth ceiling in MiB", 512, 1);
    private readonly Option<int> ceilingMatmul = CliOption.Int("--ceiling-matmul", "N", "n of the matmul ceiling's n³ matmul", 2048, 16);

    public BenchCommand() : base("bench", "speed and memory against this machine's bandwidth and matmul ceilings; 'bench kernels', 'bench context', 'bench chat' below",
        "Give --model or --config. Figures are medians of --runs timed runs after --warmup untimed ones. The machine's ceilings\n" +
        "(memory read bandwidth, float32 matmul rate) are measured in the same run; decode is reported against (weight + cache\n" +
        "bytes per step) / bandwidth, prefill and training against their matmul FLOPs / matmul rate.")
    {
        modelArgs = new ModelArgs(this, modelRequired: false, dtypeDescription: "f32 or bf16 weights", modelDescription: "checkpoint folder");
        foreach (var option in new Option[] { config, promptTokens, newTokens, batch, runs, warmup, trainTokens, prefillChunk, seed, noCompare, probePositions, probeSteps, ceilingMib, ceilingMatmul })
            Options.Add(option);
        CliOption.ExactlyOneOf(this, modelArgs.Model, config);
        Subcommands.Add(new BenchKernelsCommand());
        Subcommands.Add(new BenchContextCommand());
        Subcommands.Add(new BenchChatCommand());
    }

    protected override int Run(ParseResult parse)
    {
        var options = modelArgs.ModelOptions(parse);
        var bench = new ModelBenchmarkOptions
        {
            PromptTokens = parse.GetValue(promptTokens), NewTokens = parse.GetValue(newTokens), Batch = parse.GetValue(batch),
            Runs = parse.GetValue(runs), Warmup = parse.GetValue(warmup), TrainTokens = parse.GetValue(trainTokens),
            PrefillChunk = parse.GetValue(prefillChunk), Seed = parse.GetValue(seed),
            ProbePositions = parse.GetValue(probePositions)!, ProbeSteps = parse.GetValue(probeSteps),
            CeilingBufferBytes = (long)parse.GetValue(ceilingMib) << 20, CeilingMatmulSize = parse.GetValue(ceilingMatmul),
            Progress = line => Console.Error.WriteLine(line),
        };
        Console.Error.WriteLine("measuring the machine's ceilings…");
        var ceilings = MachineCeilings.Measure(options.TorchDevice, bench.CeilingBufferBytes, bench.CeilingMatmulSize);
        GC.Collect();
        NativeHeap.Trim();
        long baseline = ProcessMemory.ResidentBytes;
        // A checkpoint folder, or a config with random weights (the same weights for the same seed).
        JambaModel Open(JambaModelOptions o) => parse.GetValue(config) is string configPath
            ? JambaModel.Create(JambaConfig.Load(configPath), o, bench.Seed)
            : JambaModel.Load(parse.GetValue(modelArgs.Model)!, o);
        var (model, load) = LoadMeasurement.Measure(() => Open(options), parse.GetValue(config) is null ? parse.GetValue(modelArgs.Model) : null);
        using var _ = model;
        // Quantized models are inference-only: there is no training step to time.
        if (model.Quantization is not null) bench = bench with { TrainTokens = 0 };
        var r = ModelBenchmark.Run(model, bench, ceilings, baseline);
        Console.Write(Format(r));
        Console.WriteLine(FormatLoad(load));
        Console.WriteLine($"weights by precision  {(model.Quantization is { } q ? q.ToString() : "not quantized")}: {PrecisionBytes.Format(PrecisionBytes.Of(model.Network))}");
        if (bench.NewTokens > 1 && !parse.GetValue(noCompare))
        {
            // The ratio to the reference precision is taken side by side: a quantized model against the same weights
            // unquantized in its dtype, a bf16 model against float32. The copy is decoded in turn with this model (after
            // the figures above, so its memory is not in them): in turns of 8 steps, the first untimed, each timed step
            // follows one of its own model as in a generation; stepped one at a time, each model finds the other's
            // weights in the last-level cache instead. Both are printed.
            // A checkpoint stored quantized has no unquantized weights to compare with.
            bool storedQuantized = model.Quantization is not null && options.Quantization == JambaQuantization.None;
            string? label = storedQuantized ? null
                : model.Quantization is { } quantized ? QuantizationConfig.SchemeName(quantized.Scheme) + (model.ActivationQuantization == ActivationQuantization.Int8 ? "·a8" : "")
                : model.DType == torch.ScalarType.BFloat16 ? "bf16" : null;
            if (label is not null)
            {
                var otherOptions = new JambaModelOptions
                {
                    Device = options.Device, Tokenizer = options.Tokenizer,
                    DType = model.Quantization is null ? "f32" : options.DType,
                };
                string otherLabel = model.Quantization is null ? "f32" : DTypeName(model.DType);
                using var other = Open(otherOptions);
                var lms = new[] { model.CausalLM!, other.CausalLM! };
                int position = Math.Min(bench.PromptTokens, 2048), steps = Math.Max(bench.ProbeSteps, 64);
                foreach (int run in new[] { CompareRun, 1 })
                {
                    var s = ModelBenchmark.CompareDecode(lms, position, steps, bench.Batch, bench.PrefillChunk, bench.Seed, run);
                    string how = run == 1 ? "one step each in turn" : $"turns of {run} steps, first untimed";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"decode {label} vs {otherLabel,-5} {bench.Batch / s[0],10:F1} / {bench.Batch / s[1]:F1} tok/s at position {position}, {steps} steps each, {how} ({label} {s[1] / s[0]:F2}× {otherLabel})"));
                }
            }
        }
        return 0;
    }

    /// <summary>The loading line: time, bytes read and their rate, peak resident memory against the weights.</summary>
    internal static string FormatLoad(LoadMeasurement m)
    {
        static string MiB(double b) => (b / (1 << 20)).ToString("F1", CultureInfo.InvariantCulture) + " MiB";
        string read = m.BytesRead > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{MiB(m.BytesRead)} read at {m.BytesPerSecond / (1 << 20):F1} MiB/s (reading the files alone: {m.ReadSeconds:F2} s, writing as much fresh memory: {m.FillSeconds:F2} s; the load {m.Seconds / Math.Max(1e-9, m.ReadSeconds + m.FillSeconds):F1}× the two)")
            : "random weights, nothing read";
        return string.Create(CultureInfo.InvariantCulture,
            $"load                  {m.Seconds,10:F2} s      {read}; peak resident {MiB(m.PeakResidentBytes)} = baseline {MiB(m.BaselineResidentBytes)} + {MiB(m.PeakResidentBytes - m.BaselineResidentBytes)} ({m.PeakOverWeights:F2}× the {MiB(m.WeightBytes)} of weights)");
    }

    private static string DTypeName(torch.ScalarType t) => t switch
    {
        torch.ScalarType.BFloat16 => "bf16",
        torch.ScalarType.Float16 => "f16",
        _ => "f32",
    };

    /// <summary>Steps each model takes per turn in the steady-state bf16-vs-f32 comparison.</summary>
    private const int CompareRun = 8;

    private static int[] ProbePositions(string value)
    {
        if (value == "none") return Array.Empty<int>();
        return value.Split(',').Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n : throw new UsageException($"--probe-positions: '{p}' is not a positive integer (give e.g. 20,2000 or none)")).ToArray();
    }

    /// <summary>The report: ceilings, then one line per figure with its bound.</summary>
    internal static string Format(ModelBenchmarkResult r)
    {
        var o = r.Options;
        var w = new StringWriter(CultureInfo.InvariantCulture);
        static string MiB(double b) => (b / (1 << 20)).ToString("F1", CultureInfo.InvariantCulture) + " MiB";
        w.WriteLine($"machine: {Environment.ProcessorCount} cores, threads {r.Threads}; read bandwidth {r.Ceilings.ReadBytesPerSecond / 1e9:F1} GB/s, " +
            $"copy {r.Ceilings.CopyBytesPerSecond / 1e9:F1} GB/s (read+write), f32 matmul {r.Ceilings.MatmulFlopsPerSecond / 1e9:F0} GFLOP/s, bf16 matmul {r.Ceilings.Bf16MatmulFlopsPerSecond / 1e9:F0} GFLOP/s");
        w.WriteLine($"model: {r.DType}, weights {MiB(r.WeightBytes)}; batch {o.Batch}, prompt {o.PromptTokens}, new {o.NewTokens}, chunk {o.PrefillChunk}; medians of {o.Runs} runs after {o.Warmup} warm-up");
        w.WriteLine($"time to first token   {r.TimeToFirstTokenSeconds * 1e3,10:F1} ms");
        w.WriteLine($"prefill               {r.PrefillTokensPerSecond,10:F1} tok/s   {r.PrefillPercentOfBound,5:F1}% of matmul bound ({r.PrefillFlops / 1e9:F1} GFLOP)");
        // One new token is all prefill: there is no decode step to report.
        if (!double.IsNaN(r.DecodeStepSeconds))
        {
            w.WriteLine($"decode                {r.DecodeTokensPerSecond,10:F1} tok/s   {r.DecodePercentOfBound,5:F1}% of bandwidth bound ({MiB(r.DecodeBytesPerStep)} per step; {r.DecodeStepSeconds * 1e3:F2} ms/step)");
            w.WriteLine($"decode early / late   {o.Batch / r.EarlyDecodeStepSeconds,10:F1} / {o.Batch / r.LateDecodeStepSeconds:F1} tok/s (late/early {r.EarlyDecodeStepSeconds / r.LateDecodeStepSeconds:F3})");
            if (r.ProbeStepSeconds.Count > 0)
                w.WriteLine($"decode by position    {string.Join(" / ", r.ProbeStepSeconds.Select(s => (o.Batch / s).ToString("F1", CultureInfo.InvariantCulture)))} tok/s " +
                    $"at positions {string.Join(" / ", o.ProbePositions)}, {o.ProbeSteps} steps each, interleaved " +
                    $"(last/first {r.ProbeStepSeconds[0] / r.ProbeStepSeconds[^1]:F3})");
        }
        if (!double.IsNaN(r.TrainStepSeconds))
            w.WriteLine($"training step         {r.TrainStepSeconds * 1e3,10:F1} ms      {r.TrainPercentOfBound,5:F1}% of matmul bound ({o.TrainTokens} tokens, {r.TrainFlops / 1e9:F1} GFLOP, AdamW)");
        w.WriteLine($"cache                 {MiB(r.CacheBytes)} (KV + Mamba state at {o.PromptTokens + o.NewTokens - 1} positions), {MiB(r.CacheBytesAllocated)} allocated");
        w.WriteLine($"resident memory       peak {MiB(r.PeakResidentBytes)}; before the model {MiB(r.BaselineResidentBytes)}; " +
            $"after early decode {MiB(r.ResidentAfterEarlyDecodeBytes)}, after the last step {MiB(r.ResidentAfterDecodeBytes)} " +
            $"({(r.ResidentAfterDecodeBytes - r.ResidentAfterEarlyDecodeBytes) * 100.0 / Math.Max(1, r.ResidentAfterEarlyDecodeBytes):+0.00;-0.00}%)");
        double above = r.PeakResidentBytes - r.BaselineResidentBytes;
        w.WriteLine($"peak above baseline   {MiB(above)} = weights + cache ({MiB(r.WeightBytes + r.CacheBytesAllocated)}) + {MiB(above - r.WeightBytes - r.CacheBytesAllocated)} workspace; " +
            $"{above / (double)(r.WeightBytes + r.CacheBytesAllocated):F2}× (weights + cache)");
        return w.ToString();
    }
}
