using System.Globalization;
using Jamba.Lab.Benchmarking;
using TorchSharp;
using Jamba.Runtime;

namespace Jamba.Cli.Commands;

/// <summary>
/// `jamba bench`: model speed (prefill, decode, time to first token, training step) and memory against this
/// machine's ceilings measured in the same run; `jamba bench kernels`: each kernel against its reference twin.
/// </summary>
public sealed class BenchCommand : ICommand
{
    public string Name => "bench";
    public string Summary => "speed and memory against this machine's bandwidth and matmul ceilings; 'bench kernels' for the kernels";
    public bool TakesPositional => true;
    public IEnumerable<string> ValueOptions => new[]
    {
        "model", "config", "device", "dtype", "threads", "prompt-tokens", "new-tokens", "batch", "runs", "warmup",
        "train-tokens", "prefill-chunk", "probe-positions", "probe-steps", "seed", "ceiling-mib", "ceiling-matmul", "length", "channels", "moe-tokens", "moe-experts", "iterations", "reference-iterations",
    };
    public IEnumerable<string> FlagOptions => new[] { "no-compare" };
    public string Help =>
        "usage: jamba bench (--model DIR | --config FILE) [--prompt-tokens N] [--new-tokens M] [--batch B] [--threads T] [--dtype f32|bf16]\n" +
        "                   [--runs R] [--warmup W] [--train-tokens N] [--prefill-chunk C] [--device D] [--seed S]\n" +
        "       jamba bench kernels [--length L] [--channels D] [--moe-tokens N] [--moe-experts E] [--iterations I] [--reference-iterations I] [--threads T]\n\n" +
        "Figures are medians of --runs timed runs after --warmup untimed ones. The machine's ceilings (memory read bandwidth,\n" +
        "float32 matmul rate) are measured in the same run; decode is reported against (weight + cache bytes per step) / bandwidth,\n" +
        "prefill and training against their matmul FLOPs / matmul rate.\n" +
        "  --model DIR          checkpoint folder; or --config FILE: a config.json with random weights (seed --seed)\n" +
        "  --prompt-tokens N    prompt length per row (default 2048)\n" +
        "  --new-tokens M       tokens generated per row (default 64)\n" +
        "  --batch B            rows (default 1)\n" +
        "  --threads T          CPU threads (default: all cores)\n" +
        "  --dtype T            f32 (default) or bf16 weights\n" +
        "  --runs R             timed runs (default 3); --warmup W untimed runs first (default 1)\n" +
        "  --train-tokens N     training-step tokens (default 256; 0 skips the training step)\n" +
        "  --prefill-chunk C    prefill positions per forward pass (default 512)\n" +
        "  --no-compare         with --dtype bf16, skip the side-by-side decode against a float32 copy of the weights\n" +
        "  --probe-positions P  context positions whose decode speed is compared, one cache each, stepped in turn\n" +
        "                       (default 20,2000; 'none' skips); --probe-steps S steps timed at each (default 40)\n" +
        "  --ceiling-mib M      buffer of the bandwidth ceiling in MiB (default 512); --ceiling-matmul N: n of its n³ matmul (default 2048)\n" +
        "kernels: selective scan forward/backward/step, causal conv forward/backward, MoE dispatch (grouped vs dense twin\n" +
        "         vs two dense MLPs of the same width), each against its reference in the same run.";

    public int Run(CliArgs args)
    {
        ModelArgs.ApplyThreads(args);
        if (args.Positional.Count > 1 || (args.Positional.Count == 1 && args.Positional[0] != "kernels"))
            throw new UsageException($"unexpected argument '{args.Positional[^1]}' (only 'kernels' may follow bench)");
        return args.Positional.Count == 1 ? RunKernels(args) : RunModel(args);
    }

    private static int RunKernels(CliArgs args)
    {
        Console.WriteLine($"threads {torch.get_num_threads()}");
        Console.WriteLine($"{"kernel",-22} {"fast ms",10} {"twin ms",10} {"ratio",8}  shape — fast path vs twin");
        KernelBenchmarks.Run(new KernelBenchmarkOptions
        {
            Length = args.Int("length", 2048, 1), Channels = args.Int("channels", 1024, 1),
            MoeTokens = args.Int("moe-tokens", 4096, 1), MoeExperts = args.Int("moe-experts", 16, 2),
            Iterations = args.Int("iterations", 5, 1), ReferenceIterations = args.Int("reference-iterations", 3, 1),
            Progress = t => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{t.Name,-22} {t.FastMs,10:F2} {t.ReferenceMs,10:F2} {t.Speedup,7:F2}x  [{t.Shape}] {t.FastPath} vs {t.ReferencePath}")),
        });
        return 0;
    }

    private static int RunModel(CliArgs args)
    {
        if (args.Has("model") == args.Has("config")) throw new UsageException("give exactly one of --model or --config");
        var options = ModelArgs.ModelOptions(args);
        var bench = new ModelBenchmarkOptions
        {
            PromptTokens = args.Int("prompt-tokens", 2048, 1), NewTokens = args.Int("new-tokens", 64, 1), Batch = args.Int("batch", 1, 1),
            Runs = args.Int("runs", 3, 1), Warmup = args.Int("warmup", 1, 0), TrainTokens = args.Int("train-tokens", 256, 0),
            PrefillChunk = args.Int("prefill-chunk", 512, 1), Seed = args.Long("seed") ?? 0,
            ProbePositions = ProbePositions(args.Get("probe-positions")), ProbeSteps = args.Int("probe-steps", 40, 1),
            CeilingBufferBytes = (long)args.Int("ceiling-mib", 512, 1) << 20, CeilingMatmulSize = args.Int("ceiling-matmul", 2048, 16),
            Progress = line => Console.Error.WriteLine(line),
        };
        Console.Error.WriteLine("measuring the machine's ceilings…");
        var ceilings = MachineCeilings.Measure(options.TorchDevice, bench.CeilingBufferBytes, bench.CeilingMatmulSize);
        GC.Collect();
        NativeHeap.Trim();
        long baseline = ProcessMemory.ResidentBytes;
        // A checkpoint folder, or a config with random weights (the same weights for the same seed).
        JambaModel Open(JambaModelOptions o) => args.Get("config") is string configPath
            ? JambaModel.Create(JambaConfig.Load(configPath), o, args.Long("seed") ?? 0)
            : JambaModel.Load(args.Required("model"), o);
        var (model, load) = LoadMeasurement.Measure(() => Open(options), args.Get("config") is null ? args.Required("model") : null);
        using var _ = model;
        var r = ModelBenchmark.Run(model, bench, ceilings, baseline);
        Console.Write(Format(r));
        Console.WriteLine(FormatLoad(load));
        if (model.DType == torch.ScalarType.BFloat16 && bench.NewTokens > 1 && !args.Flag("no-compare"))
        {
            // The ratio to float32 is taken side by side: a float32 copy of the same weights, decoded in turn with this
            // model (after the figures above, so its memory is not in them). In turns of 8 steps, the first untimed, each
            // timed step follows one of its own model as in a generation; stepped one at a time, each model finds the
            // other's weights in the last-level cache instead. Both are printed.
            var f32Options = new JambaModelOptions { Device = options.Device, DType = "f32", Tokenizer = options.Tokenizer };
            using var f32 = Open(f32Options);
            var lms = new[] { model.CausalLM!, f32.CausalLM! };
            int position = Math.Min(bench.PromptTokens, 2048), steps = Math.Max(bench.ProbeSteps, 64);
            foreach (int run in new[] { CompareRun, 1 })
            {
                var s = ModelBenchmark.CompareDecode(lms, position, steps, bench.Batch, bench.PrefillChunk, bench.Seed, run);
                string how = run == 1 ? "one step each in turn" : $"turns of {run} steps, first untimed";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"decode bf16 vs f32    {bench.Batch / s[0],10:F1} / {bench.Batch / s[1]:F1} tok/s at position {position}, {steps} steps each, {how} (bf16 {s[1] / s[0]:F2}× f32)"));
            }
        }
        return 0;
    }

    /// <summary>The loading line: time, bytes read and their rate, peak resident memory against the weights.</summary>
    internal static string FormatLoad(LoadMeasurement m)
    {
        static string MiB(double b) => (b / (1 << 20)).ToString("F1", CultureInfo.InvariantCulture) + " MiB";
        string read = m.BytesRead > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{MiB(m.BytesRead)} read at {m.BytesPerSecond / (1 << 20):F1} MiB/s")
            : "random weights, nothing read";
        return string.Create(CultureInfo.InvariantCulture,
            $"load                  {m.Seconds,10:F2} s      {read}; peak resident {MiB(m.PeakResidentBytes)} = baseline {MiB(m.BaselineResidentBytes)} + {MiB(m.PeakResidentBytes - m.BaselineResidentBytes)} ({m.PeakOverWeights:F2}× the {MiB(m.WeightBytes)} of weights)");
    }

    /// <summary>Steps each model takes per turn in the steady-state bf16-vs-f32 comparison.</summary>
    private const int CompareRun = 8;

    private static int[] ProbePositions(string? value)
    {
        if (value is null) return new[] { 20, 2000 };
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
