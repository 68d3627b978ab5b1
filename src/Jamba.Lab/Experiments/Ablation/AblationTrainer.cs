using System.Diagnostics;
using Jamba.Modeling;
using Jamba.Planning;
using Jamba.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Lab.Experiments.Ablation;

/// <summary>
/// Trains one variant on one task from scratch and evaluates it: AdamW (β = 0.9/0.95, clip 1.0), 10% warm-up then
/// cosine to 10% of the peak, fresh generated batches each update, the router load-balancing loss on MoE models.
/// The data of a run depends on the seed only, so all variants with the same seed see the same tokens.
/// </summary>
public static class AblationTrainer
{
    /// <summary>Seed of the validation set: one fixed set per task, shared by every run.</summary>
    public const ulong ValidationSeed = 0xE7A1_5EEDUL;

    /// <summary>Trains <paramref name="variant"/> on <paramref name="task"/> with <paramref name="seed"/>.</summary>
    public static AblationRunResult Run(AblationVariant variant, IAblationTask task, long seed, AblationOptions options)
    {
        var (result, model) = Train(variant, task, seed, options);
        model.Dispose();
        return result;
    }

    /// <summary>As <see cref="Run"/>, and hands over the trained model (the caller disposes it), e.g. to evaluate it elsewhere.</summary>
    public static (AblationRunResult Result, JambaModel Model) Train(AblationVariant variant, IAblationTask task, long seed, AblationOptions options)
    {
        options.Validate();
        var config = variant.Config;
        if (config.VocabSize < task.VocabSize) throw new ArgumentException($"variant {variant.Name} has {config.VocabSize} ids but task {task.Name} needs {task.VocabSize}");
        var clock = Stopwatch.StartNew();
        torch.random.manual_seed(seed);
        var model = JambaModel.Create(config.Clone(), new JambaModelOptions(), seed);
        var lm = model.CausalLM!;
        bool moe = Enumerable.Range(0, config.NumHiddenLayers).Any(config.IsMoeLayer);
        using var optimizer = AdamW.ForModule(lm, options.WeightDecay, 0.9, 0.95);
        int steps = options.StepsFor(task), batchSize = options.BatchSizeFor(task);
        var schedule = new LearningRateSchedule(options.LearningRate, Math.Max(1, steps / 10), steps);
        var (validIds, validLabels) = Batch(task, new SplitMix64(ValidationSeed), options.EvalSequences);
        var trainRng = new SplitMix64(0x7EA1_0000UL + (ulong)seed);
        var evalAt = Enumerable.Range(1, options.EvalPoints).Select(i => (int)Math.Round((double)steps * i / options.EvalPoints)).ToHashSet();
        var curve = new List<AblationEvaluation>();
        try
        {
            for (int step = 1; step <= steps; step++)
            {
                lm.train();
                using (NewDisposeScope())
                {
                    var (ids, labels) = Batch(task, trainRng, batchSize);
                    using var output = lm.Forward(ids, labels: labels, outputRouterLogits: moe);
                    double loss = output.Loss!.item<float>();
                    if (!double.IsFinite(loss)) throw new InvalidOperationException($"{variant.Name} on {task.Name}, seed {seed}: the loss became {loss} at step {step}");
                    output.Loss!.backward();
                    GradientClipping.ClipByGlobalNorm(optimizer.Parameters, 1.0);
                    optimizer.Step(schedule.At(step));
                    optimizer.ZeroGrad();
                }
                if (evalAt.Contains(step)) curve.Add(Evaluate(lm, validIds, validLabels, step, batchSize * 2));
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }
        finally
        {
            validIds.Dispose();
            validLabels.Dispose();
        }
        lm.eval();
        var count = ParameterCount.Of(config);
        return (new AblationRunResult(variant.Name, task.Name, seed, count.Total, count.Active, curve, clock.Elapsed.TotalSeconds,
            (long)steps * batchSize * task.SequenceLength), model);
    }

    /// <summary>Mean loss and accuracy over the scored positions of the validation set.</summary>
    private static AblationEvaluation Evaluate(JambaForCausalLM lm, Tensor ids, Tensor labels, int step, int batch)
    {
        lm.eval();
        using var _ = no_grad();
        double lossSum = 0, correct = 0, scored = 0;
        long n = ids.size(0), t = ids.size(1);
        for (long start = 0; start < n; start += batch)
        {
            using var scope = NewDisposeScope();
            long b = Math.Min(batch, n - start);
            using var output = lm.Forward(ids.narrow(0, start, b), outputRouterLogits: false);
            // Position t-1 predicts the label at t (the shift Forward applies when given labels).
            var logits = output.Logits.narrow(1, 0, t - 1).reshape(-1, output.Logits.size(2));
            var target = labels.narrow(0, start, b).narrow(1, 1, t - 1).reshape(-1);
            var mask = target.ne(-100);
            lossSum += nn.functional.cross_entropy(logits, target, ignore_index: -100, reduction: nn.Reduction.Sum).item<float>();
            correct += logits.argmax(-1).eq(target).logical_and(mask).sum().item<long>();
            scored += mask.sum().item<long>();
        }
        return new AblationEvaluation(step, lossSum / scored, correct / scored);
    }

    /// <summary>Draws <paramref name="rows"/> sequences of <paramref name="task"/> as ids and labels [rows, length].</summary>
    public static (Tensor Ids, Tensor Labels) Batch(IAblationTask task, SplitMix64 rng, int rows)
    {
        int length = task.SequenceLength;
        var ids = new long[rows * length];
        var labels = new long[rows * length];
        for (int r = 0; r < rows; r++)
            task.Sample(rng, ids.AsSpan(r * length, length), labels.AsSpan(r * length, length));
        return (tensor(ids, new long[] { rows, length }), tensor(labels, new long[] { rows, length }));
    }
}
