namespace Jamba.Experiments.Ablation;

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
    public static IReadOnlyList<AblationSummary> Run(AblationOptions options)
    {
        options.Validate();
        var tasks = DefaultTasks().Where(t => options.Tasks is null || options.Tasks.Contains(t.Name)).ToList();
        if (tasks.Count == 0) throw new ArgumentException($"no task matches; tasks: {string.Join(", ", DefaultTasks().Select(t => t.Name))}");
        int vocab = VocabSize;
        var variants = AblationVariant.Catalogue(vocab, options.Hidden).Where(v => options.Variants is null || options.Variants.Contains(v.Name)).ToList();
        if (variants.Count == 0)
            throw new ArgumentException($"no variant matches; variants: {string.Join(", ", AblationVariant.Catalogue(vocab, options.Hidden).Select(v => v.Name))}");
        var grid = (from task in tasks from seed in Enumerable.Range(0, options.Seeds) from variant in variants select (task, seed, variant)).ToArray();
        var runs = new AblationRunResult[grid.Length];
        var progressLock = new object();
        void RunOne(int i)
        {
            var (task, seed, variant) = grid[i];
            var run = AblationTrainer.Run(variant, task, seed, options);
            runs[i] = run;
            lock (progressLock)
                options.Progress?.Invoke(System.FormattableString.Invariant(
                    $"{task.Name,-6} seed {seed} {variant.Name,-20} loss {run.FinalLoss:F4} accuracy {run.FinalAccuracy:P1} ({run.Seconds:F0} s)"));
        }
        // Runs are independent and each is too small to use two cores well, so several run side by side (each on
        // torch's intra-op setting); a run's result depends on its seed only, so the grid gives the same numbers
        // whatever the number of jobs.
        if (options.Jobs <= 1) for (int i = 0; i < grid.Length; i++) RunOne(i);
        else Parallel.For(0, grid.Length, new ParallelOptions { MaxDegreeOfParallelism = options.Jobs }, RunOne);
        return tasks.SelectMany(t => variants.Select(v => new AblationSummary(v.Name, t.Name, runs.Where(r => r.Task == t.Name && r.Variant == v.Name).ToList()))).ToList();
    }
}
