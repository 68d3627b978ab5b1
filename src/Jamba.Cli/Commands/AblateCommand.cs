using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text;
using Jamba.Lab.Experiments;
using Jamba.Lab.Experiments.Ablation;
using Jamba.Planning;
using Jamba.Lab.Plotting;

namespace Jamba.Cli.Commands;

/// <summary>
/// `jamba ablate`: the paper's ablations in miniature — attention:Mamba ratios, MoE, the Mamba-internal RMSNorms —
/// trained with equal active parameters and tokens on language modelling and associative recall, over several seeds.
/// </summary>
internal sealed class AblateCommand : JambaCommand
{
    private readonly Option<bool> quick = CliOption.Flag("--quick", "one seed, 40 updates, 32 validation sequences: a smoke run");
    private readonly Option<int?> seeds = CliOption.OptionalInt("--seeds", "N", "seeds per variant and task (default 3; --quick 1)", 1, 100);
    private readonly Option<int?> steps = CliOption.OptionalInt("--steps", "N", "updates per run (default: lm 200, recall 800; --quick 40)", 1);
    private readonly Option<int?> batch = CliOption.OptionalInt("--batch", "B", "sequences per update (default: lm 16, recall 32)", 1);
    private readonly Option<float> lr = CliOption.Float("--lr", "X", "peak learning rate", 3e-3f);
    private readonly Option<int?> evalSequences = CliOption.OptionalInt("--eval-sequences", "N", "validation sequences per task (default 128; --quick 32)", 1);
    private readonly Option<int> hidden = CliOption.Int("--hidden", "H", "model width", 64, 8);
    private readonly Option<string?> variants = CliOption.Text("--variants", "LIST", "run only these variants (comma-separated)");
    private readonly Option<string?> tasks = CliOption.Text("--tasks", "LIST", "run only these tasks (comma-separated)");
    private readonly Option<int?> jobs = CliOption.OptionalInt("--jobs", "J", "processes training runs side by side (default: one per core); results do not depend on it", 1, 1024);
    private readonly Option<int> threads = CliOption.Int("--threads", "T", "torch threads per run", 1, 1, 1024);
    private readonly Option<string> output = CliOption.Text("--out", "DIR", "output folder", "ablation");
    // Set by the parent process on its children: train shard i of n and write its runs to a file.
    private readonly Option<string?> shard = CliOption.Text("--shard", "i/n", "train this shard of the runs only").AsHidden();
    private readonly Option<string?> shardOut = CliOption.Text("--shard-out", "FILE", "where a shard writes its runs").AsHidden();

    public AblateCommand() : base("ablate", "train small hybrids, pure attention and pure Mamba (± MoE, ± inner norms) on LM and recall, with error bars",
        "Trains every variant from scratch on each task with each seed (same active parameters, same tokens, same\n" +
        "validation set) and reports the final validation loss and accuracy as mean ± standard deviation over seeds.\n" +
        "Variants: pure-attention, pure-mamba, hybrid-1:3, hybrid-1:7 (no MoE), hybrid-1:7-moe, hybrid-1:7-no-norms.\n" +
        "Tasks: lm (a generated corpus: sparse 2nd-order Markov text with verbatim quotations; 128-token sequences),\n" +
        "recall (4 key-value pairs at the start, filler, 12 queries at the end; 48-token sequences; only answers scored).\n" +
        "Writes ablation-runs.csv, ablation.md and plots.")
    {
        foreach (var option in new Option[] { quick, seeds, steps, batch, lr, evalSequences, hidden, variants, tasks, jobs, threads, output, shard, shardOut })
            Options.Add(option);
    }

    protected override int Run(ParseResult parse)
    {
        // One thread by default: these models are too small to gain from more, and on a busy machine a second
        // thread waiting at every barrier makes a step many times slower (measured: ~10x at load 12 on 2 cores).
        TorchSharp.torch.set_num_threads(parse.GetValue(threads));
        bool quick = parse.GetValue(this.quick);
        var options = new AblationOptions
        {
            Seeds = parse.GetValue(seeds) ?? (quick ? 1 : 3),
            Steps = parse.GetValue(steps) ?? (quick ? 40 : null),
            BatchSize = parse.GetValue(batch),
            LearningRate = parse.GetValue(lr),
            EvalSequences = parse.GetValue(evalSequences) ?? (quick ? 32 : 128),
            Hidden = parse.GetValue(hidden),
            Variants = List(parse.GetValue(variants)),
            Tasks = List(parse.GetValue(tasks)),
            Progress = line => Console.Error.WriteLine(line),
        };
        if (parse.GetValue(shard) is { } shardText) return RunShard(parse, options, shardText);
        int jobs = parse.GetValue(this.jobs) ?? Environment.ProcessorCount;
        string outDir = parse.GetValue(output)!;
        string machine = MachineInfo.Describe();
        Console.WriteLine($"jamba ablate{(quick ? " --quick" : "")} — {machine}");
        foreach (var task in AblationStudy.DefaultTasks().Where(t => options.Tasks is null || options.Tasks.Contains(t.Name)))
        {
            int steps = options.StepsFor(task), batch = options.BatchSizeFor(task);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{task.Name}: {options.Seeds} seed(s), {steps} updates × {batch} sequences × {task.SequenceLength} tokens = {(long)steps * batch * task.SequenceLength:N0} tokens per run, peak lr {options.LearningRate:G3}"));
        }
        Console.WriteLine($"{jobs} process(es) side by side, {TorchSharp.torch.get_num_threads()} torch thread(s) each");
        var started = DateTime.UtcNow;
        IReadOnlyList<AblationSummary> summaries;
        try { summaries = jobs == 1 ? AblationStudy.Run(options) : AblationStudy.Summarize(RunShardsInChildren(parse, jobs, outDir), options); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        double minutes = (DateTime.UtcNow - started).TotalMinutes;

        string report = Report(summaries, options, machine, quick, minutes, jobs);
        Console.WriteLine();
        Console.Write(report);
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "ablation.md"), report);
        File.WriteAllText(Path.Combine(outDir, "ablation-runs.csv"), RunsCsv(summaries));
        foreach (var task in summaries.Select(s => s.Task).Distinct())
        {
            var group = summaries.Where(s => s.Task == task).ToList();
            Curves(group, e => e.Loss, "validation loss (nats/token)", $"{task}: validation loss vs training tokens (mean of {options.Seeds} seed(s))")
                .SavePng(Path.Combine(outDir, $"ablation-{task}-loss.png"));
            if (task == "recall")
                Curves(group, e => e.Accuracy * 100, "recall accuracy (%)", $"recall: accuracy vs training tokens (mean of {options.Seeds} seed(s))")
                    .SavePng(Path.Combine(outDir, $"ablation-{task}-accuracy.png"));
        }
        Console.WriteLine($"wrote {Path.Combine(outDir, "ablation.md")}, ablation-runs.csv and ablation-*.png ({minutes:F1} min)");
        return 0;
    }

    /// <summary>
    /// Child mode (`--shard i/n --shard-out FILE`, set by the parent): trains shard i of n and writes its runs as JSON.
    /// Separate processes, not threads: TorchSharp is not safe for concurrent training in one process.
    /// </summary>
    private int RunShard(ParseResult parse, AblationOptions options, string shard)
    {
        var parts = shard.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int index) || !int.TryParse(parts[1], out int count))
            throw new UsageException($"--shard takes i/n, not '{shard}'");
        options.ShardIndex = index;
        options.ShardCount = count;
        string file = parse.GetValue(shardOut) ?? throw new UsageException("missing required option --shard-out");
        IReadOnlyList<AblationRunResult> runs;
        try { runs = AblationStudy.RunShard(options); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
        File.WriteAllText(file, JsonSerializer.Serialize(runs));
        return 0;
    }

    /// <summary>Starts one child process per shard with the same options, waits for all, and collects their runs.</summary>
    private List<AblationRunResult> RunShardsInChildren(ParseResult parse, int jobs, string outDir)
    {
        Directory.CreateDirectory(outDir);
        var children = new List<(Process Process, string File)>();
        for (int i = 0; i < jobs; i++)
        {
            string file = Path.Combine(outDir, $".ablation-shard-{i}-of-{jobs}.json");
            File.Delete(file);
            var start = new ProcessStartInfo { UseShellExecute = false };
            string self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot find this program's path to start the shards");
            start.FileName = self;
            if (Path.GetFileNameWithoutExtension(self) == "dotnet") start.ArgumentList.Add(typeof(AblateCommand).Assembly.Location);
            foreach (var a in new[] { "ablate" }.Concat(parse.Forwarded(this.jobs, output, shard, shardOut))
                .Concat(new[] { "--jobs", "1", "--shard", $"{i}/{jobs}", "--shard-out", file }))
                start.ArgumentList.Add(a);
            children.Add((Process.Start(start)!, file));
        }
        var runs = new List<AblationRunResult>();
        try
        {
            foreach (var (process, file) in children)
            {
                process.WaitForExit();
                if (process.ExitCode != 0 || !File.Exists(file))
                    throw new InvalidOperationException($"an ablation shard failed (exit code {process.ExitCode}); its error is above");
                runs.AddRange(JsonSerializer.Deserialize<List<AblationRunResult>>(File.ReadAllText(file))!);
            }
        }
        finally
        {
            // A failed shard (or Ctrl-C here) must not leave the others training in the background.
            foreach (var (process, file) in children)
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                process.Dispose();
                File.Delete(file);
            }
        }
        return runs;
    }

    private static IReadOnlyCollection<string>? List(string? text) =>
        text?.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

    /// <summary>The markdown report: one table per task, then the paper's findings checked against the numbers.</summary>
    private static string Report(IReadOnlyList<AblationSummary> summaries, AblationOptions options, string machine, bool quick, double minutes, int jobs)
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        foreach (var task in summaries.Select(s => s.Task).Distinct())
        {
            var rows = summaries.Where(s => s.Task == task).ToList();
            string accuracy = task == "recall" ? "recall accuracy" : "next-token accuracy";
            sb.AppendLine(inv, $"Task {task}: final validation loss and {accuracy}, mean ± std over {options.Seeds} seed(s){(quick ? " (QUICK run)" : "")}").AppendLine();
            sb.AppendLine($"| variant | layers (A/M) | params total | active | val loss | {accuracy} | s/run |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|---:|");
            foreach (var s in rows)
            {
                var r = s.Runs[0];
                var config = AblationVariant.Catalogue(AblationStudy.VocabSize, options.Hidden).First(v => v.Name == s.Variant).Config;
                sb.AppendLine(inv, $"| {s.Variant} | {config.LayerMap()} | {Units.Params(r.TotalParameters)} | {Units.Params(r.ActiveParameters)} | {s.LossMean:F4} ± {s.LossStd:F4} | {s.AccuracyMean * 100:F1} ± {s.AccuracyStd * 100:F1}% | {s.Runs.Average(x => x.Seconds):F0} |");
            }
            if (task == "recall")
            {
                var recall = new AssociativeRecallTask();
                sb.AppendLine().AppendLine(inv, $"Chance is {100.0 / recall.Values:F1}%; copying any value stated in the context scores {100.0 / recall.Pairs:F0}%; only a model that binds each value to its key scores above that.");
            }
            sb.AppendLine();
        }
        sb.AppendLine("Findings (a difference counts when it exceeds the two standard deviations added; otherwise \"no clear difference\"):").AppendLine();
        foreach (var line in Findings(summaries)) sb.AppendLine("- " + line);
        sb.AppendLine().AppendLine(inv, $"Machine: {machine}. {jobs} process(es) side by side. Wall time {minutes:F1} min.");
        return sb.ToString();
    }

    private static IEnumerable<string> Findings(IReadOnlyList<AblationSummary> summaries)
    {
        AblationSummary? Get(string variant, string task) => summaries.FirstOrDefault(s => s.Variant == variant && s.Task == task);
        string Compare(AblationSummary a, AblationSummary b, bool byLoss)
        {
            double ma = byLoss ? a.LossMean : a.AccuracyMean * 100, mb = byLoss ? b.LossMean : b.AccuracyMean * 100;
            double margin = byLoss ? a.LossStd + b.LossStd : (a.AccuracyStd + b.AccuracyStd) * 100;
            string unit = byLoss ? "" : "%";
            string values = string.Create(CultureInfo.InvariantCulture, $"{a.Variant} {ma:F3}{unit} vs {b.Variant} {mb:F3}{unit}");
            bool aBetter = byLoss ? ma < mb : ma > mb;
            if (Math.Abs(ma - mb) <= margin || a.Runs.Count < 2) return $"{values}: {(a.Runs.Count < 2 ? "one seed, no error bar; " : "")}{(Math.Abs(ma - mb) <= margin ? "no clear difference" : aBetter ? $"{a.Variant} better" : $"{b.Variant} better")}";
            return $"{values}: {(aBetter ? a.Variant : b.Variant)} better";
        }
        foreach (var (task, byLoss, what) in new[] { ("lm", true, "LM loss"), ("recall", false, "recall accuracy") })
        {
            var attention = Get("pure-attention", task);
            if (attention is null) continue;
            foreach (var hybrid in new[] { "hybrid-1:3", "hybrid-1:7" })
                if (Get(hybrid, task) is { } h) yield return $"hybrid vs pure attention, {what}: {Compare(h, attention, byLoss)}";
        }
        if (Get("pure-mamba", "recall") is { } mamba)
            foreach (var other in new[] { "pure-attention", "hybrid-1:7" })
                if (Get(other, "recall") is { } o) yield return $"pure Mamba on in-context recall: {Compare(mamba, o, byLoss: false)}";
        foreach (var task in new[] { "lm", "recall" })
            if (Get("hybrid-1:7-moe", task) is { } moe && Get("hybrid-1:7", task) is { } dense)
                yield return $"MoE at equal active parameters, {task} loss: {Compare(moe, dense, byLoss: true)}";
        foreach (var task in new[] { "lm", "recall" })
            if (Get("hybrid-1:7-no-norms", task) is { } raw && Get("hybrid-1:7", task) is { } normed)
                yield return $"Mamba-internal RMSNorms, {task} loss: {Compare(normed, raw, byLoss: true)}";
        yield return "no positional embedding: none of these models has one (Jamba has none); the with-RoPE arm of the paper's check is not built here (no RoPE in this library)";
    }

    private static string RunsCsv(IReadOnlyList<AblationSummary> summaries)
    {
        var sb = new StringBuilder("task,variant,seed,total_params,active_params,tokens,step,val_loss,accuracy,seconds\n");
        foreach (var s in summaries)
            foreach (var r in s.Runs)
                foreach (var e in r.Curve)
                    sb.Append(string.Create(CultureInfo.InvariantCulture, $"{r.Task},{r.Variant},{r.Seed},{r.TotalParameters},{r.ActiveParameters},{r.Tokens},{e.Step},{e.Loss:G6},{e.Accuracy:G6},{r.Seconds:F1}\n"));
        return sb.ToString();
    }

    private static LinePlot Curves(List<AblationSummary> group, Func<AblationEvaluation, double> y, string yLabel, string title)
    {
        var plot = new LinePlot { Title = title, XLabel = "training tokens (K)", YLabel = yLabel };
        foreach (var s in group)
        {
            var first = s.Runs[0];
            double tokensPerStep = (double)first.Tokens / first.Curve[^1].Step;
            var x = first.Curve.Select(e => e.Step * tokensPerStep / 1000).ToArray();
            var mean = Enumerable.Range(0, first.Curve.Count).Select(i => s.Runs.Average(r => y(r.Curve[i]))).ToArray();
            plot.Add(s.Variant, x, mean, markers: true);
        }
        return plot;
    }
}
