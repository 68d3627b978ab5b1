namespace Jamba.Lab.Experiments.Ablation;

/// <summary>Budget and settings of an <see cref="AblationStudy"/>: every variant, task and seed gets the same.</summary>
public sealed class AblationOptions
{
    /// <summary>Training seeds per variant and task (error bars come from their spread).</summary>
    public int Seeds { get; set; } = 3;
    /// <summary>Optimiser updates per run; null: each task's <see cref="IAblationTask.DefaultSteps"/>.</summary>
    public int? Steps { get; set; }
    /// <summary>Sequences per update (token budget per run = steps × batch × sequence length); null: each task's <see cref="IAblationTask.DefaultBatchSize"/>.</summary>
    public int? BatchSize { get; set; }

    /// <summary>The updates a run of <paramref name="task"/> takes.</summary>
    public int StepsFor(IAblationTask task) => Steps ?? task.DefaultSteps;
    /// <summary>The sequences per update for <paramref name="task"/>.</summary>
    public int BatchSizeFor(IAblationTask task) => BatchSize ?? task.DefaultBatchSize;
    /// <summary>Peak learning rate (10% linear warm-up, cosine decay to 10%).</summary>
    public double LearningRate { get; set; } = 3e-3;
    /// <summary>AdamW weight decay (norms, biases, A_log and D exempt).</summary>
    public double WeightDecay { get; set; } = 0.1;
    /// <summary>Validation sequences (the same fixed set for every run of a task).</summary>
    public int EvalSequences { get; set; } = 128;
    /// <summary>Evaluations per run, evenly spaced (the last at the final step), for the learning curves.</summary>
    public int EvalPoints { get; set; } = 5;
    /// <summary>Model width of the variants.</summary>
    public int Hidden { get; set; } = 64;
    /// <summary>Variant names to run (null: all of <see cref="AblationVariant.Catalogue"/>).</summary>
    public IReadOnlyCollection<string>? Variants { get; set; }
    /// <summary>Task names to run (null: both).</summary>
    public IReadOnlyCollection<string>? Tasks { get; set; }
    /// <summary>
    /// Which part of the grid this process trains: variant v of the b-th (task, seed) block when
    /// (v + b) mod <see cref="ShardCount"/> = <see cref="ShardIndex"/>. Shards run in separate processes side by side and
    /// their runs are merged with <see cref="AblationStudy.Summarize"/>; a run's numbers depend on its seed only.
    /// </summary>
    public int ShardIndex { get; set; }
    /// <summary>Number of shards (1: the whole grid).</summary>
    public int ShardCount { get; set; } = 1;
    /// <summary>Receives one line per finished run; null for silence.</summary>
    public Action<string>? Progress { get; set; }

    /// <summary>Checks the numbers; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (Seeds < 1) throw new ArgumentException("seeds must be positive");
        if (Steps is < 1) throw new ArgumentException("steps must be positive");
        if (BatchSize is < 1) throw new ArgumentException("batch size must be positive");
        if (!(LearningRate > 0)) throw new ArgumentException("the learning rate must be positive");
        if (EvalSequences < 1) throw new ArgumentException("eval sequences must be positive");
        if (EvalPoints < 1) throw new ArgumentException("eval points must be positive");
        if (ShardCount < 1 || ShardIndex < 0 || ShardIndex >= ShardCount) throw new ArgumentException($"shard {ShardIndex}/{ShardCount} is not one of 0 … count-1");
        if (Hidden < 8 || Hidden % 4 != 0) throw new ArgumentException("hidden must be a multiple of 4, at least 8");
    }
}
