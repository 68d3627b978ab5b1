using System.Diagnostics;
using Jamba.Inference;
using Jamba.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Jamba.Training;

/// <summary>What a fine-tuned sequence head predicts.</summary>
public enum FineTuneObjective
{
    /// <summary>One of k classes; cross-entropy over k logits.</summary>
    Multiclass,
    /// <summary>Two classes; cross-entropy over 2 logits (score = logit₁ − logit₀).</summary>
    Binary,
    /// <summary>A real number; mean squared error on standardised targets (one output).</summary>
    Regression,
}

/// <summary>Settings of <see cref="SequenceClassificationFineTuner"/>.</summary>
public sealed class FineTuneOptions
{
    /// <summary>Passes over the training examples.</summary>
    public int Epochs { get; set; } = 3;
    /// <summary>Examples per optimizer step.</summary>
    public int BatchSize { get; set; } = 16;
    /// <summary>Peak learning rate of AdamW.</summary>
    public float LearningRate { get; set; } = 3e-4f;
    /// <summary>Decoupled weight decay; never applied to norms, biases, <c>A_log</c> or <c>D</c>.</summary>
    public float WeightDecay { get; set; } = 0.01f;
    /// <summary>Fraction of all steps spent warming up linearly from 0 to the peak.</summary>
    public float WarmupFraction { get; set; } = 0.1f;
    /// <summary>Decay after warm-up.</summary>
    public LearningRateDecay Schedule { get; set; } = LearningRateDecay.Cosine;
    /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
    public float GradientClipNorm { get; set; } = 1f;
    /// <summary>Train only the classification head; the decoder stack stays as loaded.</summary>
    public bool FreezeBackbone { get; set; }
    /// <summary>Stop after this many epochs without a better validation loss (0: never stop early). Needs validation examples.</summary>
    public int EarlyStoppingPatience { get; set; }
    /// <summary>Seed of the head's initialisation and of the shuffling.</summary>
    public long Seed { get; set; }
    /// <summary>Report progress every this many optimizer steps.</summary>
    public int LogEverySteps { get; set; } = 10;
    /// <summary>Device of the fine-tuned copy (null: the source model's).</summary>
    public string? Device { get; set; }
    /// <summary>Parameter dtype of the fine-tuned copy (null: the source model's).</summary>
    public string? DType { get; set; }

    /// <summary>Checks the values; the exception names the option at fault.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "must be at least 1");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "must be at least 1");
        if (!(LearningRate > 0)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "must be positive");
        if (WeightDecay < 0) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "must be 0 or more");
        if (WarmupFraction is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(WarmupFraction), WarmupFraction, "must be in [0, 1)");
        if (GradientClipNorm < 0) throw new ArgumentOutOfRangeException(nameof(GradientClipNorm), GradientClipNorm, "must be 0 (off) or positive");
        if (EarlyStoppingPatience < 0) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "must be 0 (off) or positive");
    }
}

/// <summary>One training example: token ids and a target (class index, 0/1, or a real value for regression).</summary>
/// <param name="Ids">Token ids (already truncated).</param>
/// <param name="Label">Class index for multiclass and binary, the target value for regression.</param>
public sealed record FineTuneExample(IReadOnlyList<int> Ids, float Label);

/// <summary>A progress report.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Step">Optimizer steps done so far.</param>
/// <param name="TotalSteps">Steps planned for all epochs.</param>
/// <param name="Loss">Mean training loss since the last report.</param>
/// <param name="LearningRate">Current learning rate.</param>
/// <param name="TokensPerSecond">Real (unpadded) tokens trained per second since the last report (NaN when no step ran since).</param>
/// <param name="ValidationLoss">Validation loss, at the end of an epoch when validation examples exist.</param>
/// <param name="ValidationAccuracy">Validation accuracy (classification) at the end of an epoch.</param>
/// <param name="EndOfEpoch">True for the report closing an epoch.</param>
public sealed record FineTuneProgress(int Epoch, int Step, int TotalSteps, double Loss, double LearningRate, double TokensPerSecond,
    double? ValidationLoss, double? ValidationAccuracy, bool EndOfEpoch);

/// <summary>The outcome of fine-tuning.</summary>
/// <param name="Model">The fine-tuned classifier, a new model the caller owns.</param>
/// <param name="TargetMean">Regression: the training targets' mean (predictions are <c>output × TargetScale + TargetMean</c>); else 0.</param>
/// <param name="TargetScale">Regression: the training targets' standard deviation; else 1.</param>
/// <param name="EpochsRun">Epochs actually run (fewer with early stopping).</param>
/// <param name="BestEpoch">The epoch whose weights were kept (the last, or the best on validation).</param>
/// <param name="BestValidationLoss">The kept epoch's validation loss, when validation examples were given.</param>
public sealed record FineTuneResult(JambaModel Model, float TargetMean, float TargetScale, int EpochsRun, int BestEpoch, double? BestValidationLoss);

/// <summary>
/// Fine-tunes a copy of a Jamba model as a sequence classifier or regressor (the reference's
/// <c>JambaForSequenceClassification</c>: a bias-free linear head on the last token's final hidden state) with
/// AdamW, linear warm-up and a constant, linear or cosine decay. The source model is never modified.
/// </summary>
public static class SequenceClassificationFineTuner
{
    /// <summary>The config of the classifier copy: the source's with the sequence-classification head.</summary>
    public static JambaConfig ClassifierConfig(JambaConfig source, FineTuneObjective objective, int numClasses, IReadOnlyList<string>? labelNames = null)
    {
        var config = source.Clone();
        config.Architectures = new List<string> { "JambaForSequenceClassification" };
        config.NumLabels = objective switch { FineTuneObjective.Regression => 1, FineTuneObjective.Binary => 2, _ => numClasses };
        config.ProblemType = objective == FineTuneObjective.Regression ? "regression" : "single_label_classification";
        config.Id2Label = labelNames is { Count: > 0 } && labelNames.Count == config.NumLabels
            ? labelNames.Select((n, i) => (n, i)).ToDictionary(p => p.i, p => p.n) : null;
        return config;
    }

    /// <summary>
    /// Trains and returns a new classifier. <paramref name="stopRequested"/> is polled every step (for host-level
    /// cancellation such as ML.NET's); either it or <paramref name="cancellationToken"/> ends training with
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public static FineTuneResult Train(JambaModel source, FineTuneObjective objective, int numClasses,
        IReadOnlyList<FineTuneExample> train, IReadOnlyList<FineTuneExample>? validation, FineTuneOptions options,
        Action<FineTuneProgress>? progress = null, Func<bool>? stopRequested = null, CancellationToken cancellationToken = default,
        IReadOnlyList<string>? labelNames = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(train);
        source.EnsureTrainable();
        options.Validate();
        if (train.Count == 0) throw new ArgumentException("no training examples", nameof(train));
        if (objective == FineTuneObjective.Multiclass && numClasses < 2) throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "multiclass needs at least 2 classes");
        if (objective != FineTuneObjective.Regression)
        {
            int classes = objective == FineTuneObjective.Binary ? 2 : numClasses;
            var bad = train.Concat(validation ?? Array.Empty<FineTuneExample>()).FirstOrDefault(e => e.Label < 0 || e.Label >= classes || e.Label != MathF.Floor(e.Label));
            if (bad is not null) throw new ArgumentOutOfRangeException(nameof(train), bad.Label, $"class labels must be integers in 0..{classes - 1}");
        }
        if (train.Any(e => e.Ids.Count == 0)) throw new ArgumentException("a training example has no tokens (start texts with BOS)", nameof(train));

        float mean = 0f, scale = 1f;
        if (objective == FineTuneObjective.Regression)
        {
            mean = (float)train.Average(e => (double)e.Label);
            double variance = train.Average(e => Math.Pow(e.Label - mean, 2));
            scale = variance > 1e-12 ? (float)Math.Sqrt(variance) : 1f;
        }

        var config = ClassifierConfig(source.Config, objective, numClasses, labelNames);
        var modelOptions = new JambaModelOptions
        {
            Device = options.Device ?? source.Device.ToString(),
            DType = options.DType ?? DTypeName(source.DType),
        };
        var model = source.Clone(modelOptions, config);
        try
        {
            var classifier = model.Classifier!;
            InitHead(classifier, config, options.Seed);
            var result = Loop(model, classifier, objective, train, validation, options, mean, scale, progress, stopRequested, cancellationToken);
            return result;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Raw head outputs [row][output] (float32, no gradients), one left-padded batch; empty rows give zeros.</summary>
    public static float[][] Predict(JambaForSequenceClassification classifier, IReadOnlyList<IReadOnlyList<int>> rows)
    {
        int outputs = classifier.Config.NumLabels;
        var result = rows.Select(_ => new float[outputs]).ToArray();
        var used = Enumerable.Range(0, rows.Count).Where(i => rows[i].Count > 0).ToArray();
        if (used.Length == 0) return result;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool wasTraining = classifier.training;
        if (wasTraining) classifier.eval();
        try
        {
            var batch = used.Select(i => rows[i]).ToList();
            var (logits, _) = Forward(classifier, batch);
            var flat = logits.to_type(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
            for (int k = 0; k < used.Length; k++) result[used[k]] = flat.AsSpan(k * outputs, outputs).ToArray();
            return result;
        }
        finally
        {
            if (wasTraining) classifier.train();
        }
    }

    private static (Tensor logits, Tensor mask) Forward(JambaForSequenceClassification classifier, IReadOnlyList<IReadOnlyList<int>> batch)
    {
        var device = classifier.score.weight!.device;
        var (ids, mask) = TextEncoding.LeftPad(batch, classifier.Config.PadTokenId ?? 0, device);
        bool padded = batch.Any(r => r.Count != ids.size(1));
        var (logits, _) = classifier.Forward(ids, padded ? mask : null);
        return (logits, mask);
    }

    private static void InitHead(JambaForSequenceClassification classifier, JambaConfig config, long seed)
    {
        // Clone gave the head torch's default init from the global generator; a seeded normal init makes runs repeatable.
        using var _ = no_grad();
        using var generator = new Generator((ulong)seed);
        var w = classifier.score.weight!;
        using var fresh = normal(0, config.InitializerRange, w.shape, dtype: ScalarType.Float32, generator: generator);
        w.copy_(fresh);
    }

    private static FineTuneResult Loop(JambaModel model, JambaForSequenceClassification classifier, FineTuneObjective objective,
        IReadOnlyList<FineTuneExample> train, IReadOnlyList<FineTuneExample>? validation, FineTuneOptions options,
        float mean, float scale, Action<FineTuneProgress>? progress, Func<bool>? stopRequested, CancellationToken cancellationToken)
    {
        var trainable = new List<(string name, Parameter p)>();
        foreach (var (name, p) in classifier.named_parameters())
        {
            bool train_ = !options.FreezeBackbone || name.StartsWith("score.", StringComparison.Ordinal);
            p.requires_grad = train_;
            if (train_) trainable.Add((name, p));
        }
        using var optimizer = new AdamW(ParameterGroups.Split(trainable, options.WeightDecay));

        int stepsPerEpoch = (train.Count + options.BatchSize - 1) / options.BatchSize;
        int totalSteps = stepsPerEpoch * options.Epochs;
        int warmup = (int)Math.Round(options.WarmupFraction * totalSteps);
        var schedule = new LearningRateSchedule(options.LearningRate, warmup, totalSteps, MinRatio: 0, options.Schedule);
        var rng = new Random((int)(options.Seed ^ (options.Seed >> 32)));
        var order = Enumerable.Range(0, train.Count).ToArray();

        Dictionary<string, Tensor>? best = null;
        double? bestLoss = null;
        int bestEpoch = options.Epochs, epochsRun = 0, sinceBest = 0, step = 0;
        bool useValidation = validation is { Count: > 0 };
        var clock = Stopwatch.StartNew();
        double lossSum = 0; int lossCount = 0; long tokens = 0;
        try
        {
            for (int epoch = 1; epoch <= options.Epochs; epoch++)
            {
                epochsRun = epoch;
                rng.Shuffle(order);
                classifier.train();
                for (int s = 0; s < stepsPerEpoch; s++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    if (stopRequested?.Invoke() == true) throw new OperationCanceledException("fine-tuning was cancelled");
                    var batch = order.Skip(s * options.BatchSize).Take(options.BatchSize).Select(i => train[i]).ToList();
                    double lr = schedule.At(step + 1);
                    using (NewDisposeScope())
                    {
                        optimizer.ZeroGrad();
                        var loss = Loss(classifier, objective, batch, mean, scale);
                        loss.backward();
                        if (options.GradientClipNorm > 0) GradientClipping.ClipByGlobalNorm(trainable.Select(t => (Tensor)t.p), options.GradientClipNorm);
                        optimizer.Step(lr);
                        lossSum += loss.item<float>();
                    }
                    lossCount++;
                    tokens += batch.Sum(b => (long)b.Ids.Count);
                    step++;
                    if (options.LogEverySteps > 0 && step % options.LogEverySteps == 0 && progress is not null)
                    {
                        progress(new FineTuneProgress(epoch, step, totalSteps, lossSum / lossCount, lr, tokens / Math.Max(1e-9, clock.Elapsed.TotalSeconds), null, null, false));
                        lossSum = 0; lossCount = 0; tokens = 0; clock.Restart();
                    }
                }
                classifier.eval();
                double? valLoss = null, valAccuracy = null;
                if (useValidation)
                {
                    (valLoss, valAccuracy) = Validate(classifier, objective, validation!, options.BatchSize, mean, scale);
                    if (bestLoss is null || valLoss < bestLoss - 1e-9)
                    {
                        bestLoss = valLoss; bestEpoch = epoch; sinceBest = 0;
                        ReplaceSnapshot(ref best, classifier);
                    }
                    else sinceBest++;
                }
                progress?.Invoke(new FineTuneProgress(epoch, step, totalSteps, lossCount > 0 ? lossSum / lossCount : double.NaN,
                    schedule.At(Math.Max(1, step)),
                    tokens > 0 ? tokens / Math.Max(1e-9, clock.Elapsed.TotalSeconds) : double.NaN, valLoss, valAccuracy, true));
                lossSum = 0; lossCount = 0; tokens = 0; clock.Restart();
                if (useValidation && options.EarlyStoppingPatience > 0 && sinceBest >= options.EarlyStoppingPatience) break;
            }
            if (best is not null && bestEpoch != epochsRun) Restore(best, classifier);
            if (!useValidation) bestEpoch = epochsRun;
        }
        finally
        {
            if (best is not null) foreach (var t in best.Values) t.Dispose();
            foreach (var (_, p) in classifier.named_parameters()) p.requires_grad = true;
            classifier.eval();
        }
        return new FineTuneResult(model, mean, scale, epochsRun, bestEpoch, bestLoss);
    }

    private static Tensor Loss(JambaForSequenceClassification classifier, FineTuneObjective objective, IReadOnlyList<FineTuneExample> batch, float mean, float scale)
    {
        var (logits, _) = Forward(classifier, batch.Select(b => b.Ids).ToList());
        var device = logits.device;
        if (objective == FineTuneObjective.Regression)
        {
            var target = tensor(batch.Select(b => (b.Label - mean) / scale).ToArray(), device: device);
            return nn.functional.mse_loss(logits.squeeze(-1), target);
        }
        var labels = tensor(batch.Select(b => (long)b.Label).ToArray(), device: device);
        return nn.functional.cross_entropy(logits, labels);
    }

    private static (double loss, double? accuracy) Validate(JambaForSequenceClassification classifier, FineTuneObjective objective,
        IReadOnlyList<FineTuneExample> validation, int batchSize, float mean, float scale)
    {
        double total = 0; long correct = 0;
        using var _ = no_grad();
        for (int start = 0; start < validation.Count; start += batchSize)
        {
            var batch = validation.Skip(start).Take(batchSize).ToList();
            using var scope = NewDisposeScope();
            total += Loss(classifier, objective, batch, mean, scale).item<float>() * batch.Count;
            if (objective != FineTuneObjective.Regression)
            {
                var (logits, _) = Forward(classifier, batch.Select(b => b.Ids).ToList());
                var predicted = logits.argmax(-1).cpu().data<long>().ToArray();
                for (int i = 0; i < batch.Count; i++) if (predicted[i] == (long)batch[i].Label) correct++;
            }
        }
        return (total / validation.Count, objective == FineTuneObjective.Regression ? null : (double)correct / validation.Count);
    }

    private static void ReplaceSnapshot(ref Dictionary<string, Tensor>? snapshot, nn.Module module)
    {
        if (snapshot is not null) foreach (var t in snapshot.Values) t.Dispose();
        using var _ = no_grad();
        snapshot = module.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone().DetachFromDisposeScope());
    }

    private static void Restore(Dictionary<string, Tensor> snapshot, nn.Module module)
    {
        using var _ = no_grad();
        foreach (var (name, p) in module.named_parameters()) p.copy_(snapshot[name]);
    }

    private static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "f16",
        _ => "f32",
    };
}
