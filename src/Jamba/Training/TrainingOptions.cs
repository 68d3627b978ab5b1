using System.Text.Json;
using System.Text.Json.Serialization;

namespace Jamba.Training;

/// <summary>
/// Everything that defines a causal-LM training run. Saved in each checkpoint's training state, so
/// <c>--resume</c> continues with the same settings (options given again on the command line override them).
/// </summary>
public sealed class TrainingOptions
{
    /// <summary>Tokens per training sequence (default 256).</summary>
    public int SequenceLength { get; set; } = 256;
    /// <summary>Sequences per micro-batch (default 8).</summary>
    public int BatchSize { get; set; } = 8;
    /// <summary>Micro-batches whose gradients are summed before each update (default 1); the loss of each is divided by this.</summary>
    public int GradientAccumulation { get; set; } = 1;
    /// <summary>Number of optimiser updates (default 1000).</summary>
    public int Steps { get; set; } = 1000;
    /// <summary>Peak learning rate (default 3e-4).</summary>
    public double LearningRate { get; set; } = 3e-4;
    /// <summary>Linear warm-up updates; null means 10 % of <see cref="Steps"/> (default).</summary>
    public int? WarmupSteps { get; set; }
    /// <summary>Final learning rate of the cosine decay as a fraction of the peak (default 0.1).</summary>
    public double MinLearningRateRatio { get; set; } = 0.1;
    /// <summary>Decoupled weight decay for the decayed group (default 0.1).</summary>
    public double WeightDecay { get; set; } = 0.1;
    /// <summary>AdamW β₁ (default 0.9).</summary>
    public double Beta1 { get; set; } = 0.9;
    /// <summary>AdamW β₂ (default 0.95, the usual language-model choice).</summary>
    public double Beta2 { get; set; } = 0.95;
    /// <summary>AdamW ε (default 1e-8).</summary>
    public double Epsilon { get; set; } = 1e-8;
    /// <summary>Global gradient-norm clip; 0 disables (default 1.0).</summary>
    public double ClipNorm { get; set; } = 1.0;
    /// <summary>Fraction of the packed sequences held out for validation (default 0.05; 0 disables evaluation).</summary>
    public double ValidationFraction { get; set; } = 0.05;
    /// <summary>Evaluate every this many updates (0: only at the start and the end; default 100).</summary>
    public int EvalEvery { get; set; } = 100;
    /// <summary>Write a resumable checkpoint every this many updates (0: only at the end; default 0).</summary>
    public int SaveEvery { get; set; }
    /// <summary>Keep only this many most recent step checkpoints (0 keeps all; default 0).</summary>
    public int KeepCheckpoints { get; set; }
    /// <summary>Stop after this many evaluations without a new best validation loss (0: never; default 0).</summary>
    public int EarlyStoppingPatience { get; set; }
    /// <summary>Seed for data split, data order and torch's generator (default 0).</summary>
    public long Seed { get; set; }
    /// <summary>
    /// Parameter dtype while training: <c>f32</c> (default) or <c>bf16</c>/<c>f16</c> with float32 master weights in
    /// the optimiser. The trainer follows the model it is given; this records the choice (the CLI loads the model in it).
    /// </summary>
    public string DType { get; set; } = "f32";
    /// <summary>Torch device (default <c>cpu</c>). The trainer uses the model's device; this records the choice (the CLI loads the model on it).</summary>
    public string Device { get; set; } = "cpu";
    /// <summary>Request router logits and add <c>router_aux_loss_coef</c> × the load-balancing loss when the model has MoE layers (default true).</summary>
    public bool RouterAuxLoss { get; set; } = true;

    /// <summary>The warm-up actually used.</summary>
    [JsonIgnore]
    public int EffectiveWarmup => WarmupSteps ?? Steps / 10;

    /// <summary>The schedule these options describe.</summary>
    public LearningRateSchedule Schedule() => new(LearningRate, EffectiveWarmup, Steps, MinLearningRateRatio);

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the first bad one.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(SequenceLength >= 2, $"sequence length must be at least 2, got {SequenceLength}");
        Check(BatchSize >= 1, $"batch size must be at least 1, got {BatchSize}");
        Check(GradientAccumulation >= 1, $"gradient accumulation must be at least 1, got {GradientAccumulation}");
        Check(Steps >= 1, $"steps must be at least 1, got {Steps}");
        Check(WarmupSteps is null or >= 0, $"warm-up must be >= 0, got {WarmupSteps}");
        Check(WeightDecay >= 0, $"weight decay must be >= 0, got {WeightDecay}");
        Check(ClipNorm >= 0, $"clip norm must be >= 0, got {ClipNorm}");
        Check(ValidationFraction is >= 0 and < 1, $"validation fraction must be in [0, 1), got {ValidationFraction}");
        Check(EvalEvery >= 0 && SaveEvery >= 0 && KeepCheckpoints >= 0 && EarlyStoppingPatience >= 0, "eval-every, save-every, keep-checkpoints and early-stopping must be >= 0");
        Check(EarlyStoppingPatience == 0 || ValidationFraction > 0, "early stopping needs a validation set (validation fraction > 0)");
        Schedule().Validate();
        _ = JambaModelOptions.ParseDType(DType);
    }

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    /// <summary>A copy.</summary>
    public TrainingOptions Clone() => JsonSerializer.Deserialize<TrainingOptions>(JsonSerializer.Serialize(this, Json), Json)!;
}
