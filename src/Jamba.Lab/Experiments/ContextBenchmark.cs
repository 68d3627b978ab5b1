using Jamba.Lab.Benchmarking;
using System.Diagnostics;
using Jamba.Inference;
using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;
using Jamba.Runtime;

namespace Jamba.Lab.Experiments;

/// <summary>
/// Decode speed and memory of one model at growing context lengths (batch 1): for each context the cache is
/// filled to that length (synthetically or by a real chunked prefill, see <see cref="CacheFill"/>), one untimed
/// decode step warms up, then <see cref="ContextBenchmarkOptions.NewTokens"/> greedy decode steps are timed
/// (speed = 1 / the median step).
/// This is the paper's long-context throughput claim made measurable: an attention layer reads its whole KV cache
/// every step, a Mamba layer only its fixed-size state, so a model with few attention layers slows down less.
/// </summary>
public static class ContextBenchmark
{
    /// <summary>
    /// Measures every model at every context of <paramref name="options"/>, shortest context first. The models take
    /// turns at each context, so that on a shared machine a burst of foreign load hits all of them alike rather than
    /// one model's whole series.
    /// </summary>
    public static IReadOnlyList<ContextBenchmarkRow> Run(IReadOnlyList<(string Label, JambaForCausalLM Model)> models, ContextBenchmarkOptions options)
    {
        ArgumentNullException.ThrowIfNull(models);
        options.Validate();
        var wasTraining = models.Select(m => m.Model.training).ToArray();
        foreach (var (_, lm) in models) lm.eval();
        var rows = new List<ContextBenchmarkRow>();
        try
        {
            foreach (int context in options.Contexts.OrderBy(c => c))
                foreach (var (label, lm) in models)
                {
                    var row = Measure(lm, label, context, options);
                    rows.Add(row);
                    options.Progress?.Invoke(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"{label}: context {context}: {row.DecodeTokensPerSecond:F2} tokens/s, fill {row.FillSeconds:F1} s"));
                }
        }
        finally
        {
            for (int i = 0; i < models.Count; i++) if (wasTraining[i]) models[i].Model.train();
        }
        // Grouped by model (in the given order), then by context.
        return models.SelectMany(m => rows.Where(r => r.Model == m.Label)).ToList();
    }

    private static ContextBenchmarkRow Measure(JambaForCausalLM lm, string label, int context, ContextBenchmarkOptions options)
    {
        var config = lm.Config;
        var device = lm.Device;
        var dtype = lm.DType;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        NativeHeap.Trim();
        long residentBefore = ProcessMemory.ResidentBytes;
        // Room for the context plus every decode step, so no KV buffer grows (and copies) while timing.
        using var cache = new HybridCache(config, 1, context + options.NewTokens + 2, device, dtype);
        // A CPU generator: the random inputs are made on the host and moved, so the same seed gives the same inputs anywhere.
        using var generator = new Generator((ulong)(options.Seed + context), CPU);

        var fill = Stopwatch.StartNew();
        long next = options.Fill == CacheFill.Prefill
            ? Prefill(lm, cache, context, options.PrefillChunk, generator)
            : FillSynthetic(config, cache, context, generator, device, dtype);
        fill.Stop();

        long token = Step(lm, cache, next, device);   // warm-up: first-call allocations are not decode speed
        // The median step, not the mean: on a shared machine a few steps stall on foreign load; the median is what
        // the model costs.
        // The process's CPU time per step is recorded too: it is the work a step costs whatever else the machine runs
        // (wall time also counts the waits for a busy core).
        var steps = new double[options.NewTokens];
        var cpu = new double[options.NewTokens];
        using var process = Process.GetCurrentProcess();
        for (int i = 0; i < options.NewTokens; i++)
        {
            process.Refresh();
            var cpuStarted = process.TotalProcessorTime;
            long started = Stopwatch.GetTimestamp();
            token = Step(lm, cache, token, device);
            steps[i] = Stopwatch.GetElapsedTime(started).TotalSeconds;
            process.Refresh();
            cpu[i] = (process.TotalProcessorTime - cpuStarted).TotalSeconds;
        }

        long resident = ProcessMemory.ResidentBytes;
        return new ContextBenchmarkRow(label, context, fill.Elapsed.TotalSeconds, options.Fill == CacheFill.Prefill,
            1 / Median(steps), Median(cpu), cache.KvBytesUsed, cache.MambaStateBytes,
            Math.Max(0, resident - residentBefore), resident);
    }

    private static double Median(double[] values)
    {
        var v = (double[])values.Clone();
        Array.Sort(v);
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>A real prefill of random tokens in chunks; returns the greedy next token.</summary>
    private static long Prefill(JambaForCausalLM lm, HybridCache cache, int context, int chunk, Generator generator)
    {
        var device = lm.Device;
        long nextToken = 0;
        for (int start = 0; start < context; start += chunk)
        {
            int n = Math.Min(chunk, context - start);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var ids = randint(0, lm.Config.VocabSize, new long[] { 1, n }, generator: generator).to(device);
            nextToken = InferenceStep.LastLogits(lm, JambaEngine.Cpu, ids, null, cache).argmax(-1).cpu().item<long>();
        }
        return nextToken;
    }

    /// <summary>
    /// Writes random keys and values for <paramref name="context"/> positions into every attention layer's cache
    /// and random conv/SSM states into every Mamba layer, then marks the positions as processed, exactly as a
    /// prefill would leave the cache's bookkeeping. Returns a token to start decoding from.
    /// </summary>
    private static long FillSynthetic(JambaConfig config, HybridCache cache, int context, Generator generator, Device device, ScalarType dtype)
    {
        const int Block = 4096;   // bounded temporaries at long contexts
        using var _ = no_grad();
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            using var scope = NewDisposeScope();
            if (config.LayerKindAt(layer) == LayerKind.Attention)
            {
                var kv = cache.Kv(layer);
                for (int start = 0; start < context; start += Block)
                {
                    int n = Math.Min(Block, context - start);
                    var shape = new long[] { cache.Batch, config.NumKeyValueHeads, n, config.HeadDim };
                    kv.Append(randn(shape, generator: generator).to(dtype, device), randn(shape, generator: generator).to(dtype, device));
                }
            }
            else
            {
                var state = cache.Mamba(layer);
                state.Conv.copy_(randn(state.Conv.shape, generator: generator).mul_(0.1).to(state.Conv.dtype, device));
                state.Ssm.copy_(randn(state.Ssm.shape, generator: generator).mul_(0.1).to(device));
                state.HasState = true;
            }
        }
        cache.KeyMask(null, context, incomingPadded: false);
        cache.Advance(context);
        return 1;
    }

    private static long Step(JambaForCausalLM lm, HybridCache cache, long token, Device device)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new[] { token }, new long[] { 1, 1 }, device: device);
        return InferenceStep.LastLogits(lm, JambaEngine.Cpu, ids, null, cache).argmax(-1).cpu().item<long>();
    }
}
