using System.Diagnostics;
using Jamba.Inference;
using Jamba.Modeling;
using Jamba.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Lab.Experiments.Precision;

/// <summary>One precision's figures in a <see cref="PrecisionComparison"/>.</summary>
/// <param name="Precision">How the model was loaded: <c>f32</c>, <c>bf16</c>, <c>int8</c>, <c>q4</c> (…).</param>
/// <param name="WeightBytes">Bytes of the loaded parameters and buffers.</param>
/// <param name="CrossEntropy">Mean next-token negative log-likelihood over every predicted token, in nats.</param>
/// <param name="Tokens">Predicted tokens counted.</param>
/// <param name="Top1Agreement">Share of predicted positions whose most likely token equals the first precision's.</param>
/// <param name="Seconds">Loading plus scoring time.</param>
public sealed record PrecisionResult(string Precision, long WeightBytes, double CrossEntropy, long Tokens, double Top1Agreement, double Seconds)
{
    /// <summary>exp(<see cref="CrossEntropy"/>).</summary>
    public double Perplexity => Math.Exp(CrossEntropy);
}

/// <summary>
/// Perplexity of one checkpoint at several precisions (float32, bfloat16, int8, 4-bit) on the same texts, and how
/// often each precision's greedy next token agrees with the first one's: the measurement behind the quality table of
/// weight-only quantization. Each text is one row starting with BOS, as <c>EvaluateLanguageModel</c> scores it.
/// </summary>
public static class PrecisionComparison
{
    /// <summary>
    /// Loads <paramref name="modelDir"/> once per entry of <paramref name="precisions"/>, in order (one model in memory
    /// at a time), and scores <paramref name="texts"/>; the first precision is the reference of the agreement.
    /// </summary>
    public static IReadOnlyList<PrecisionResult> Run(string modelDir, IReadOnlyList<string> texts, IReadOnlyList<(string name, JambaModelOptions options)> precisions,
        int maxTokens = 1024, int batchSize = 8, Action<string>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (precisions.Count == 0) throw new ArgumentException("no precision to compare", nameof(precisions));
        var results = new List<PrecisionResult>();
        List<int[]>? reference = null;
        foreach (var (name, options) in precisions)
        {
            var clock = Stopwatch.StartNew();
            using var model = JambaModel.Load(modelDir, options);
            var lm = model.CausalLM ?? throw new InvalidOperationException($"{modelDir} is not a causal LM");
            var tokenizer = model.RequireTokenizer();
            var rows = texts.Select(t => (IReadOnlyList<int>)TextEncoding.Encode(tokenizer, t, maxTokens, TruncationPolicy.KeepStart, addBos: true)).ToList();
            double nll = 0;
            long tokens = 0, agree = 0;
            var top1 = new List<int[]>(rows.Count);
            for (int start = 0; start < rows.Count; start += batchSize)
            {
                var batch = rows.Skip(start).Take(batchSize).ToList();
                foreach (var s in LanguageModelScoring.ScoreWithPredictions(lm, batch))
                {
                    nll += s.Loss.NegativeLogLikelihood;
                    tokens += s.Loss.TokenCount;
                    top1.Add(s.Top1);
                }
                progress?.Invoke($"{name}: {Math.Min(start + batchSize, rows.Count)}/{rows.Count} texts");
            }
            reference ??= top1;
            for (int r = 0; r < top1.Count; r++)
                for (int i = 0; i < top1[r].Length; i++)
                    if (top1[r][i] == reference[r][i]) agree++;
            long bytes = model.Network.parameters().Sum(p => p.numel() * p.ElementSize) + model.Network.buffers().Sum(b => b.numel() * b.ElementSize);
            results.Add(new PrecisionResult(name, bytes, tokens > 0 ? nll / tokens : double.NaN, tokens, tokens > 0 ? agree / (double)tokens : double.NaN, clock.Elapsed.TotalSeconds));
        }
        return results;
    }

    /// <summary>The four precisions of the quality table: f32, bf16, int8 and q4 (the quantized ones over float32).</summary>
    public static IReadOnlyList<(string name, JambaModelOptions options)> Standard(string device = "cpu", int groupSize = QuantizationConfig.DefaultGroupSize) => new[]
    {
        ("f32", new JambaModelOptions { Device = device, DType = "f32" }),
        ("bf16", new JambaModelOptions { Device = device, DType = "bf16" }),
        ("int8", new JambaModelOptions { Device = device, DType = "f32", Quantization = JambaQuantization.Int8 }),
        ($"q4 (G={groupSize})", new JambaModelOptions { Device = device, DType = "f32", Quantization = JambaQuantization.Q4, GroupSize = groupSize }),
    };
}
