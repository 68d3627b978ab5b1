using Jamba.Inference;
using Jamba.Training;
using Microsoft.ML;

namespace Jamba.MLNet;

/// <summary>
/// Options of the Jamba fine-tuning trainers (<c>ml.MulticlassClassification.Trainers.Jamba</c>, <c>ml.BinaryClassification.Trainers.Jamba</c>,
/// <c>ml.Regression.Trainers.Jamba</c>). Names follow Microsoft.ML.TorchSharp's trainer options where they overlap.
/// </summary>
public sealed class JambaTrainerOptions
{
    /// <summary>Passes over the training data. Default 3.</summary>
    public int Epochs { get; set; } = 3;
    /// <summary>Examples per optimizer step. Default 16.</summary>
    public int BatchSize { get; set; } = 16;
    /// <summary>Peak AdamW learning rate. Default 3e-4.</summary>
    public float LearningRate { get; set; } = 3e-4f;
    /// <summary>Most tokens per text, BOS included (0: no limit). Default 128; applies to training and scoring alike.</summary>
    public int MaxTokens { get; set; } = 128;
    /// <summary>Which tokens survive truncation. Default: keep the start.</summary>
    public TruncationPolicy Truncation { get; set; } = TruncationPolicy.KeepStart;
    /// <summary>Start texts with BOS. Default true.</summary>
    public bool AddBos { get; set; } = true;
    /// <summary>AdamW weight decay (never on norms, biases, A_log, D). Default 0.01.</summary>
    public float WeightDecay { get; set; } = 0.01f;
    /// <summary>Fraction of steps warming the learning rate up linearly. Default 0.1.</summary>
    public float WarmupFraction { get; set; } = 0.1f;
    /// <summary>Learning-rate decay after warm-up. Default cosine.</summary>
    public LearningRateDecay LearningRateSchedule { get; set; } = LearningRateDecay.Cosine;
    /// <summary>Global gradient-norm clip (0: off). Default 1.</summary>
    public float GradientClipNorm { get; set; } = 1f;
    /// <summary>Train only the new classification head, keeping the decoder stack as loaded. Default false.</summary>
    public bool FreezeBackbone { get; set; }
    /// <summary>Data scored after every epoch (same columns as the training data); its loss drives early stopping and the weights kept.</summary>
    public IDataView? ValidationSet { get; set; }
    /// <summary>Stop after this many epochs without a better validation loss (0: off). Needs <see cref="ValidationSet"/>.</summary>
    public int EarlyStoppingPatience { get; set; }
    /// <summary>Seed of head initialisation and shuffling. Null (default): drawn from the MLContext's seed, like ML.NET's own trainers.</summary>
    public int? Seed { get; set; }
    /// <summary>
    /// Torch device of the fine-tuned model (<c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>). Null (default): <c>cuda:{MLContext.GpuDeviceId}</c>
    /// when GpuDeviceId is set (falling back to the CPU when CUDA is missing and MLContext.FallbackToCpu is true), else the source model's device.
    /// </summary>
    public string? Device { get; set; }
    /// <summary>Parameter dtype of the fine-tuned model (<c>f32</c>, <c>bf16</c>, <c>f16</c>). Null (default): the source model's.</summary>
    public string? DType { get; set; }
    /// <summary>Write progress to MLContext.Log every this many steps (and at every epoch end). Default 10.</summary>
    public int LogEverySteps { get; set; } = 10;
    /// <summary>Rows per forward pass when the fitted transformer scores data. Default 32.</summary>
    public int PredictionBatchSize { get; set; } = 32;
    /// <summary>Name of the score column. Default <c>Score</c>.</summary>
    public string ScoreColumnName { get; set; } = "Score";
    /// <summary>Name of the predicted-label column (multiclass and binary). Default <c>PredictedLabel</c>.</summary>
    public string PredictedLabelColumnName { get; set; } = "PredictedLabel";
    /// <summary>Name of the probability column (binary). Default <c>Probability</c>.</summary>
    public string ProbabilityColumnName { get; set; } = "Probability";
    /// <summary>Another way to stop training, besides MLContext.CancelExecution().</summary>
    public CancellationToken CancellationToken { get; set; }

    internal FineTuneOptions ToLibrary(int seed, string? device) => new()
    {
        Epochs = Epochs, BatchSize = BatchSize, LearningRate = LearningRate, WeightDecay = WeightDecay, WarmupFraction = WarmupFraction,
        Schedule = LearningRateSchedule, GradientClipNorm = GradientClipNorm, FreezeBackbone = FreezeBackbone,
        EarlyStoppingPatience = EarlyStoppingPatience, Seed = seed, LogEverySteps = LogEverySteps, Device = device, DType = DType,
    };
}
