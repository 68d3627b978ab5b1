using System.Diagnostics;
using Jamba.Inference;
using TorchSharp;
using static TorchSharp.torch;
using Jamba.Runtime;

namespace Jamba.Lab.Benchmarking;

/// <summary>
/// Times a model end to end the way it is used (what <c>jamba bench</c> prints): generation through
/// <see cref="TokenGenerator"/> with chunked prefill and the hybrid cache (time to first token, prefill and decode
/// speed, speed late vs early in decoding, resident memory), and a training step (forward + backward + AdamW).
/// Every figure is a median over timed runs after warm-up, and is related to a bound from
/// <see cref="MachineCeilings"/> measured in the same process.
/// </summary>
public static class ModelBenchmark
{
    /// <summary>
    /// Runs the benchmark on <paramref name="model"/> (a causal LM). <paramref name="baselineResidentBytes"/> is the
    /// process's resident size before the model existed, reported next to the peak. The ceilings are measured once
    /// more at the end; the result holds the higher of each figure.
    /// </summary>
    public static ModelBenchmarkResult Run(JambaModel model, ModelBenchmarkOptions o, MachineCeilings ceilings, long baselineResidentBytes)
    {
        var lm = model.CausalLM ?? throw new InvalidOperationException("the benchmark needs a causal LM checkpoint");
        if (o.PromptTokens < 1 || o.NewTokens < 1 || o.Batch < 1) throw new ArgumentException("prompt tokens, new tokens and batch must be positive");
        var config = model.Config;
        var g = new Generator((ulong)o.Seed);
        using var prompt = randint(3, config.VocabSize, new long[] { o.Batch, o.PromptTokens }, generator: g).to(model.Device);
        var generation = new GenerationOptions { MaxNewTokens = o.NewTokens, IgnoreStopTokens = true, PrefillChunkSize = o.PrefillChunk };
        var generator = new TokenGenerator(lm);

        var ttft = new List<double>();
        var steps = new List<double>();
        var early = new List<double>();
        var late = new List<double>();
        long peak = 0, rssEarly = 0, rssEnd = 0;
        for (int run = 0; run < o.Warmup + o.Runs; run++)
        {
            bool timed = run >= o.Warmup;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            NativeHeap.Trim();
            ProcessMemory.ResetPeak();
            var stamps = new List<double>(o.NewTokens);
            var sw = Stopwatch.StartNew();
            int produced = 0;
            foreach (var _ in generator.Stream(prompt, null, generation))
            {
                stamps.Add(sw.Elapsed.TotalSeconds);
                // Reading /proc costs microseconds; once early and once at the end is enough to see growth.
                if (++produced == Math.Min(o.NewTokens, 5 + o.DecodeWindow)) rssEarly = ProcessMemory.ResidentBytes;
            }
            rssEnd = ProcessMemory.ResidentBytes;
            if (!timed) { o.Progress?.Invoke($"warm-up run {run + 1}: {stamps[0]:F3} s to first token"); continue; }
            peak = Math.Max(peak, ProcessMemory.PeakResidentBytes);
            ttft.Add(stamps[0]);
            var deltas = stamps.Zip(stamps.Skip(1), (a, b) => b - a).ToArray();
            steps.AddRange(deltas);
            // Skip the first few steps (allocator warm-up) for the early window.
            early.AddRange(deltas.Skip(Math.Min(5, Math.Max(0, deltas.Length - o.DecodeWindow))).Take(o.DecodeWindow));
            late.AddRange(deltas.Skip(Math.Max(0, deltas.Length - o.DecodeWindow)));
            o.Progress?.Invoke($"run {run - o.Warmup + 1}: {stamps[0]:F3} s to first token, decode {(deltas.Length > 0 ? o.Batch / Timing.Median(deltas) : double.NaN):F1} tok/s");
        }

        var probe = o.NewTokens > 1 && o.ProbePositions.Length > 0 ? PositionProbe(lm, o, g) : Array.Empty<double>();

        long cacheUsed, cacheAllocated;
        using (var cache = new Modeling.HybridCache(config, o.Batch, o.PromptTokens + o.NewTokens, model.Device, model.DType))
            (cacheUsed, cacheAllocated) = (Planning.CacheMemory.TotalBytes(config, o.Batch, o.PromptTokens + o.NewTokens - 1, model.DType), cache.BytesAllocated);

        double trainSeconds = double.NaN, trainFlops = 0;
        if (o.TrainTokens > 0)
        {
            trainSeconds = TrainStep(lm, o, g);
            trainFlops = ModelCost.TrainingFlops(config, o.TrainTokens);
            o.Progress?.Invoke($"training step ({o.TrainTokens} tokens): {trainSeconds:F3} s");
        }

        // Measured again after the work, and the higher of each kept (see MachineCeilings.Max).
        var after = MachineCeilings.Measure(model.Device, o.CeilingBufferBytes, o.CeilingMatmulSize);
        o.Progress?.Invoke($"ceilings before: read {ceilings.ReadBytesPerSecond / 1e9:F1} GB/s, f32 matmul {ceilings.MatmulFlopsPerSecond / 1e9:F0} GFLOP/s; " +
            $"after: {after.ReadBytesPerSecond / 1e9:F1} GB/s, {after.MatmulFlopsPerSecond / 1e9:F0} GFLOP/s");
        return new ModelBenchmarkResult
        {
            Ceilings = ceilings.Max(after),
            Options = o,
            DType = model.DType.ToString(),
            Threads = torch.get_num_threads(),
            WeightBytes = lm.parameters().Sum(p => p.numel() * p.ElementSize) + lm.buffers().Sum(b => b.numel() * b.ElementSize),
            CacheBytes = cacheUsed,
            CacheBytesAllocated = cacheAllocated,
            TimeToFirstTokenSeconds = Timing.Median(ttft),
            PrefillFlops = o.Batch * ModelCost.ForwardFlops(config, o.PromptTokens, 0, 1),
            DecodeStepSeconds = steps.Count > 0 ? Timing.Median(steps) : double.NaN,
            DecodeBytesPerStep = model.Quantization is null
                ? ModelCost.DecodeBytesPerStep(config, o.Batch, o.PromptTokens + o.NewTokens / 2, model.DType)
                : ModelCost.DecodeBytesPerStep(lm, config, o.Batch, o.PromptTokens + o.NewTokens / 2, model.DType),
            EarlyDecodeStepSeconds = early.Count > 0 ? Timing.Median(early) : double.NaN,
            LateDecodeStepSeconds = late.Count > 0 ? Timing.Median(late) : double.NaN,
            PeakResidentBytes = peak,
            BaselineResidentBytes = baselineResidentBytes,
            ResidentAfterEarlyDecodeBytes = rssEarly,
            ResidentAfterDecodeBytes = rssEnd,
            ProbeStepSeconds = probe,
            TrainStepSeconds = trainSeconds,
            TrainFlops = trainFlops,
        };
    }

    /// <summary>
    /// Median decode-step seconds at each of <see cref="ModelBenchmarkOptions.ProbePositions"/>: one cache per
    /// position, stepped in turn (see <see cref="Interleaved"/>).
    /// </summary>
    private static double[] PositionProbe(Modeling.JambaForCausalLM lm, ModelBenchmarkOptions o, Generator g)
    {
        var medians = Interleaved(o.ProbePositions.Select(p => (lm, p)).ToArray(), o.Batch, o.ProbeSteps, o.PrefillChunk, g);
        o.Progress?.Invoke("decode by position (interleaved): " + string.Join(", ", o.ProbePositions.Zip(medians, (p, m) => $"{p}: {m * 1e3:F2} ms/step")));
        return medians;
    }

    /// <summary>
    /// Median decode-step seconds of each model in <paramref name="models"/> (the same architecture in different
    /// dtypes, say), each prefilled with the same <paramref name="position"/> random tokens and then stepped in turn,
    /// so that a shared machine's drift falls on all of them alike: what a ratio of their speeds needs. With
    /// <paramref name="run"/> &gt; 1 each model takes that many steps in a row per turn and the first of them is not
    /// timed: every timed step follows a step of the same model, as in a generation, where part of the weights the
    /// last step streamed are still in the last-level cache. Stepped one at a time (run 1), each model finds the other
    /// model's weights there instead, which costs the smaller model the larger share of its step.
    /// </summary>
    public static double[] CompareDecode(IReadOnlyList<Modeling.JambaForCausalLM> models, int position, int steps, int batch = 1, int prefillChunk = 512, long seed = 0, int run = 1)
    {
        if (models.Count == 0) return Array.Empty<double>();
        if (models.Any(m => !ReferenceEquals(m.Config, models[0].Config) && m.Config.VocabSize != models[0].Config.VocabSize))
            throw new ArgumentException("the models to compare must share a vocabulary");
        if (run < 1) throw new ArgumentOutOfRangeException(nameof(run), run, "steps per turn must be at least 1");
        return Interleaved(models.Select(m => (m, position)).ToArray(), batch, steps, prefillChunk, new Generator((ulong)seed), run);
    }

    /// <summary>
    /// The core of <see cref="PositionProbe"/> and <see cref="CompareDecode"/>: one cache per arm (a model and a
    /// context position), prefilled to its position, then the arms take turns of <paramref name="run"/> decode steps
    /// until each has <paramref name="steps"/> timed steps (with runs longer than one, a turn's first step is not
    /// timed); returns each arm's median step seconds. Steps run as generation's do: one token per row, under no-grad,
    /// inside a dispose scope, the next token read back to the host.
    /// </summary>
    private static double[] Interleaved(IReadOnlyList<(Modeling.JambaForCausalLM lm, int position)> arms, int batch, int steps, int prefillChunk, Generator g, int run = 1)
    {
        int timedPerTurn = run == 1 ? 1 : run - 1, turns = (steps + timedPerTurn - 1) / timedPerTurn;
        var caches = new List<Modeling.HybridCache>();
        try
        {
            foreach (var (lm, position) in arms)
            {
                if (position < 1) throw new ArgumentException($"probe position {position} must be positive");
                var cache = new Modeling.HybridCache(lm.Config, batch, position + (long)turns * run, lm.Device, lm.DType);
                caches.Add(cache);
                using var ids = randint(3, lm.Config.VocabSize, new long[] { batch, position }, generator: g).to(lm.Device);
                for (long start = 0; start < position; start += prefillChunk)
                {
                    using var scope = NewDisposeScope();
                    using var _ = no_grad();
                    InferenceStep.LastLogits(lm, JambaEngine.Cpu, ids.narrow(1, start, Math.Min(prefillChunk, position - start)), null, cache).Dispose();
                }
            }
            var samples = caches.Select(_ => new List<double>()).ToArray();
            var tokens = new long[batch];
            for (int turn = 0; turn < turns; turn++)
                for (int i = 0; i < arms.Count; i++)
                    for (int k = 0; k < run; k++)
                    {
                        var lm = arms[i].lm;
                        int step = turn * run + k;
                        for (int b = 0; b < tokens.Length; b++) tokens[b] = 3 + (step * 7919 + b) % (lm.Config.VocabSize - 3);
                        var sw = Stopwatch.StartNew();
                        using (NewDisposeScope())
                        using (no_grad())
                        {
                            var next = tensor(tokens, new long[] { tokens.Length, 1 }, device: lm.Device);
                            _ = InferenceStep.LastLogits(lm, JambaEngine.Cpu, next, null, caches[i]).argmax(-1).cpu().data<long>()[0];
                        }
                        if ((run == 1 || k > 0) && samples[i].Count < steps) samples[i].Add(sw.Elapsed.TotalSeconds);
                    }
            return samples.Select(Timing.Median).ToArray();
        }
        finally
        {
            foreach (var c in caches) c.Dispose();
        }
    }

    /// <summary>
    /// Median seconds of a training step on one row of <see cref="ModelBenchmarkOptions.TrainTokens"/> random tokens:
    /// forward with labels and the router loss, backward, AdamW step. The model's weights change; it is left in eval mode.
    /// </summary>
    private static double TrainStep(Modeling.JambaForCausalLM lm, ModelBenchmarkOptions o, Generator g)
    {
        var config = lm.Config;
        var parameters = lm.parameters().ToArray();
        foreach (var p in parameters) p.requires_grad_(true);
        using var optimizer = torch.optim.AdamW(parameters, lr: 1e-4);
        using var ids = randint(3, config.VocabSize, new long[] { 1, o.TrainTokens }, generator: g).to(lm.Device);
        lm.train();
        try
        {
            return Timing.MedianSeconds(1, o.Runs, () =>
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                using var output = lm.Forward(ids, labels: ids, outputRouterLogits: true);
                output.Loss!.backward();
                optimizer.step();
            });
        }
        finally
        {
            lm.eval();
        }
    }
}
