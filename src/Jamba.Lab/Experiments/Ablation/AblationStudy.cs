namespace Jamba.Lab.Experiments.Ablation;

/// <summary>Mean and spread of one variant on one task over its seeds.</summary>
/// <param name="Variant">Variant name.</param>
/// <param name="Task">Task name.</param>
/// <param name="Runs">The runs (one per seed).</param>
public sealed record AblationSummary(string Variant, string Task, IReadOnlyList<AblationRunResult> Runs)
{
    /// <summary>Mean final validation loss.</summary>
    public double LossMean => Runs.Average(r => r.FinalLoss);
    /// <summary>Sample standard deviation of the final validation loss over seeds (0 with one seed).</summary>
    public double LossStd => Std(Runs.Select(r => r.FinalLoss));
    /// <summary>Mean final accuracy.</summary>
    public double AccuracyMean => Runs.Average(r => r.FinalAccuracy);
    /// <summary>Sample standard deviation of the final accuracy over seeds.</summary>
    public double AccuracyStd => Std(Runs.Select(r => r.FinalAccuracy));

    private static double Std(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length < 2) return 0;
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
    }
}

/// <summary>
/// The ablation grid: every variant of <see cref="AblationVariant.Catalogue"/> (or the chosen ones) on every task
/// (language modelling of a generated corpus, associative recall), with each seed, under one budget.
/// </summary>
public static class AblationStudy
{
    /// <summary>Vocabulary of every ablation model: room for the ids of every task here and of the needle task.</summary>
    public const int VocabSize = 128;

    /// <summary>The two tasks, in report order.</summary>
    public static IReadOnlyList<IAblationTask> DefaultTasks() => new IAblationTask[] { new MarkovLanguageTask(), new AssociativeRecallTask() };

    /// <summary>Runs the grid (task by task, then seed by seed, then variant by variant) and returns the summaries.</summary>
    public static IReadOnlyList<AblationSummary> Run(AblationOptions options) => Summarize(RunShard(options), options);

    /// <summary>
    /// Trains this process's shard of the grid (all of it with the default options) one run after another and returns
    /// the runs. Runs are not trained on parallel threads in one process: TorchSharp's error reporting and autograd
    /// callbacks are not safe for that (a threaded attempt failed with a foreign "Unknown scalar type" error).
    /// </summary>
    public static IReadOnlyList<AblationRunResult> RunShard(AblationOptions options)
    {
        options.Validate();
        var (tasks, variants) = Select(options);
        var runs = new List<AblationRunResult>();
        int block = 0;
        foreach (var task in tasks)
            for (int seed = 0; seed < options.Seeds; seed++, block++)
                for (int v = 0; v < variants.Count; v++)
                {
                    // Rotating the shards by one per (task, seed) block spreads the slow variants over all of them.
                    if ((v + block) % options.ShardCount != options.ShardIndex) continue;
                    var variant = variants[v];
                    var run = AblationTrainer.Run(variant, task, seed, options);
                    runs.Add(run);
                    options.Progress?.Invoke(System.FormattableString.Invariant(
                        $"{task.Name,-6} seed {seed} {variant.Name,-20} loss {run.FinalLoss:F4} accuracy {run.FinalAccuracy:P1} ({run.Seconds:F0} s)"));
                }
        return runs;
    }

    /// <summary>Groups runs (from one process or several shards) into one summary per task and variant, in grid order.</summary>
    public static IReadOnlyList<AblationSummary> Summarize(IEnumerable<AblationRunResult> runs, AblationOptions options)
    {
        var all = runs.ToList();
        var (tasks, variants) = Select(options);
        return tasks.SelectMany(t => variants.Select(v => new AblationSummary(v.Name, t.Name,
            all.Where(r => r.Task == t.Name && r.Variant == v.Name).OrderBy(r => r.Seed).ToList()))).Where(s => s.Runs.Count > 0).ToList();
    }

    private static (List<IAblationTask> Tasks, List<AblationVariant> Variants) Select(AblationOptions options)
    {
        var tasks = DefaultTasks().Where(t => options.Tasks is null || options.Tasks.Contains(t.Name)).ToList();
        if (tasks.Count == 0) throw new ArgumentException($"no task matches; tasks: {string.Join(", ", DefaultTasks().Select(t => t.Name))}");
        var catalogue = AblationVariant.Catalogue(VocabSize, options.Hidden);
        var variants = catalogue.Where(v => options.Variants is null || options.Variants.Contains(v.Name)).ToList();
        if (variants.Count == 0) throw new ArgumentException($"no variant matches; variants: {string.Join(", ", catalogue.Select(v => v.Name))}");
        return (tasks, variants);
    }
}
