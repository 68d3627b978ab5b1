using System.Diagnostics;
using Jamba.MLNet;
using Jamba.Planning;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using Microsoft.ML.Transforms;
using TorchSharp;

namespace Jamba.Quickstart;

/// <summary>
/// The quickstart, stage by stage: model, data, bag-of-n-grams baseline, Jamba fine-tuning, evaluation, save and
/// reload, generation, plots and summary. <c>Program.cs</c> only parses arguments and calls <see cref="Run"/>; tests
/// call it with smaller sizes.
/// </summary>
public static class QuickstartPipeline
{
    /// <summary>
    /// Runs everything, printing progress to <paramref name="console"/>. User input (data file, model folder,
    /// output folder) is checked before anything is written; a failure leaves no output behind.
    /// </summary>
    /// <exception cref="QuickstartInputException">Bad input; the message is one line naming the problem.</exception>
    public static QuickstartResult Run(QuickstartOptions o, TextWriter console)
    {
        var timings = new List<(string, double)>();
        var clock = Stopwatch.StartNew();
        var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        void Done(string stage) { timings.Add((stage, clock.Elapsed.TotalSeconds)); clock.Restart(); }
        if (o.Threads is int threads) torch.set_num_threads(threads);

        // Everything the user supplies is checked before the first file is written.
        var data = QuickstartData.Load(o);
        using JambaModel source = LoadModel(o, out string modelSource);
        // The preset is untrained, so generation uses the shipped trained checkpoint unless the user gave a model. It is
        // loaded at the generation stage (building modules draws from torch's generator, which would change the
        // fine-tuning's numbers), but checked now, before anything is written.
        if (o.ModelDir is null && !File.Exists(Path.Combine(o.GeneratorDir, "config.json")))
            throw new QuickstartInputException($"generation model folder {o.GeneratorDir} has no config.json (the shipped model is copied there by the build from models/jamba-tiny-stories)");
        using var output = OutputFolder.Begin(o.OutputDir);

        console.WriteLine($"1/6  Model: {modelSource}");
        console.Write(ModelFacts.Describe(source.Config));
        Done("model");

        console.WriteLine();
        console.WriteLine($"2/6  Data: {data.Source}");
        console.WriteLine($"     {data.Train.Count} training rows, {data.Test.Count} test rows, classes: {string.Join(", ", data.Classes.Select(c => $"{c} ({data.Train.Count(r => r.Label == c)})"))}");
        foreach (var row in data.Train.Take(3)) console.WriteLine($"     {row.Label,-8} | {row.Text}");
        if (data.Explanation is string why) console.WriteLine($"     {why}");

        var ml = new MLContext(seed: o.Seed);
        var trainView = ml.Data.LoadFromEnumerable(data.Train);
        var testView = ml.Data.LoadFromEnumerable(data.Test);

        console.WriteLine();
        console.WriteLine("3/6  ML.NET: the classic baseline, then Jamba fine-tuned as an ML.NET trainer");
        // Keys sorted by value, so both models (and the Score slots) list the classes in the same order.
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue);
        var baselinePipeline = toKey
            .Append(ml.Transforms.Text.FeaturizeText("Features", "Text"))
            // One thread: SDCA's multi-threaded updates arrive in a racy order, which would make the numbers vary run to run.
            .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options { NumberOfThreads = 1 }));
        var baselineModel = baselinePipeline.Fit(trainView);
        var baseline = ClassifierScores.From("FeaturizeText + SdcaMaximumEntropy", ml.MulticlassClassification.Evaluate(baselineModel.Transform(testView)));
        console.WriteLine($"     baseline trained ({clock.Elapsed.TotalSeconds:F1} s): bag of words, word bigrams and character trigrams, linear model");
        Done("baseline");

        var trainer = ml.MulticlassClassification.Trainers.Jamba(model: source, labelColumnName: "Label", textColumnName: "Text",
            options: new JambaTrainerOptions
            {
                Epochs = o.Epochs, BatchSize = o.BatchSize, LearningRate = o.LearningRate, MaxTokens = o.MaxTokens,
                // About 40 points on the loss curve whatever the data size (and at least one).
                Seed = o.Seed, LogEverySteps = Math.Max(1, (data.Train.Count + o.BatchSize - 1) / o.BatchSize * o.Epochs / 40),
            });
        var jambaPipeline = toKey.Append(trainer).Append(ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel"));
        console.WriteLine($"     fine-tuning Jamba: {o.Epochs} epochs, batch {o.BatchSize}, peak lr {o.LearningRate:G3}, AdamW + warm-up + cosine");
        IReadOnlyList<LossPoint> loss;
        ClassifierScores jamba;
        using (var log = new TrainingLossLog(ml, console))
        using (var fitted = jambaPipeline.Fit(trainView))
        {
            loss = log.Points.ToList();
            jamba = ClassifierScores.From("Jamba (fine-tuned)", ml.MulticlassClassification.Evaluate(fitted.Transform(testView)));
            Done("jamba fine-tune");

            console.WriteLine();
            console.WriteLine($"     {"test set (" + data.Test.Count + " rows)",-36} {"accuracy",9} {"macro-F1",9} {"log-loss",9}");
            foreach (var s in new[] { baseline, jamba })
                console.WriteLine($"     {s.Model,-36} {s.Accuracy,9:F3} {s.MacroF1,9:F3} {s.LogLoss,9:F3}");

            ml.Model.SaveJamba(fitted, trainView.Schema, output.PathOf(QuickstartReport.ModelFile));
        }

        console.WriteLine();
        long savedBytes = new FileInfo(output.PathOf(QuickstartReport.ModelFile)).Length;
        console.WriteLine($"4/6  Saved the whole pipeline with ml.Model.SaveJamba ({savedBytes / 1024} KiB), reloaded it with ml.Model.LoadJamba in a new MLContext");
        var reloadContext = new MLContext(seed: o.Seed);
        ClassifierScores reloadedScores;
        var predictions = new List<SentencePrediction>();
        using (var reloaded = (TransformerChain<ITransformer>)reloadContext.Model.LoadJamba(output.PathOf(QuickstartReport.ModelFile), out var inputSchema))
        {
            reloadedScores = ClassifierScores.From("Jamba (reloaded)", reloadContext.MulticlassClassification.Evaluate(reloaded.Transform(reloadContext.Data.LoadFromEnumerable(data.Test))));
            console.WriteLine($"     reloaded test accuracy {reloadedScores.Accuracy:F3} (identical to before saving: {reloadedScores == jamba with { Model = reloadedScores.Model }})");
            var engine = reloadContext.Model.CreatePredictionEngine<LabeledText, LabelPrediction>(reloaded, inputSchema);
            foreach (var example in data.NewExamples)
            {
                var p = engine.Predict(new LabeledText { Text = example.Text });
                predictions.Add(new SentencePrediction(example.Text, p.PredictedText, p.Score.Length > 0 ? p.Score.Max() : float.NaN, example.Label));
                console.WriteLine($"     {Clip(example.Text, 56),-56} -> {p.PredictedText} ({p.Score.Max():P0}){(example.Label.Length > 0 ? (p.PredictedText == example.Label ? "  right" : $"  wrong, expected {example.Label}") : "")}");
            }
        }
        Done("save + reload + predict");

        console.WriteLine();
        var generations = new List<DecodeRun>();
        using JambaModel? shipped = o.ModelDir is null ? LoadCheckpoint(o.GeneratorDir, "generation model folder") : null;
        var generator = shipped ?? source;
        if (generator.CausalLM is null)
        {
            console.WriteLine("5/6  Generation skipped: the checkpoint is a classifier, not a causal LM");
        }
        else
        {
            console.WriteLine($"5/6  Generation with the hybrid KV + Mamba-state cache (greedy, {o.GenerateTokens} new tokens)");
            if (shipped is not null)
                console.WriteLine($"     model: {o.GeneratorDir}, {shipped.Network.parameters().Sum(p => p.numel()):N0} parameters trained in this repository on its tiny stories and dialogues (see its README.md)");
            foreach (var prompt in data.Prompts)
            {
                var run = DecodeRun.Measure(generator, prompt, o.GenerateTokens);
                generations.Add(run);
                console.WriteLine($"     \"{prompt}\" -> \"{Printable(run.Continuation)}\"");
                console.WriteLine($"       prefill {run.PrefillSeconds * 1000:F0} ms, decode {run.DecodeTokensPerSecond:F1} tokens/s");
            }
        }
        Done("generate");

        var result = new QuickstartResult
        {
            DataSource = data.Source, ModelSource = modelSource, TrainRows = data.Train.Count, TestRows = data.Test.Count,
            Classes = data.Classes, Baseline = baseline, Jamba = jamba, Reloaded = reloadedScores, Loss = loss,
            Predictions = predictions, Generations = generations, SavedModelBytes = savedBytes, Timings = timings,
            OutputDir = output.Target,
            // CPU time says what the run costs when other processes share the cores (wall time then says little).
            CpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart).TotalSeconds,
        };
        QuickstartReport.Write(result, source.Config, o, output);
        Done("plots + summary");
        output.Commit();
        console.WriteLine();
        console.WriteLine($"6/6  Wrote {string.Join(", ", QuickstartReport.Files)} to {output.Target}");
        console.WriteLine($"     done in {result.TotalSeconds:F0} s wall, {result.CpuSeconds:F0} s CPU ({string.Join(", ", timings.Select(t => $"{t.Item1} {t.Item2:F0} s"))})");
        return result;
    }

    private static JambaModel LoadModel(QuickstartOptions o, out string description)
    {
        if (o.ModelDir is string dir)
        {
            description = $"checkpoint {dir}";
            return LoadCheckpoint(dir, "model folder");
        }
        JambaConfig config;
        try { config = Presets.FromName(o.Preset); }
        catch (ArgumentException e) { throw new QuickstartInputException(e.Message, e); }
        // The built-in byte tokenizer has 260 ids: a larger vocabulary would only add embedding rows no text uses.
        config.VocabSize = Jamba.Tokenization.ByteTokenizer.Instance.VocabSize;
        description = $"preset '{o.Preset}', randomly initialised (seed {o.Seed}), byte tokenizer";
        return JambaModel.Create(config, seed: o.Seed);
    }

    private static JambaModel LoadCheckpoint(string dir, string what)
    {
        JambaModel model;
        try { model = JambaModel.Load(dir); }
        catch (Exception e) when (e is Jamba.Checkpoints.CheckpointException or JambaConfigException or IOException or InvalidDataException)
        {
            throw new QuickstartInputException($"cannot load {what} {dir}: {e.Message}", e);
        }
        if (model.Tokenizer is null)
        {
            model.Dispose();
            throw new QuickstartInputException($"{what} {dir} has no tokenizer (no tokenizer.json or tokenizer.model, and config.json names no built-in tokenizer)");
        }
        return model;
    }

    private static string Clip(string s, int n) => s.Length <= n ? s : s[..(n - 3)] + "...";

    // A user's model may produce arbitrary bytes; control characters would garble the terminal.
    private static string Printable(string s) => new(s.Select(c => char.IsControl(c) ? '·' : c).ToArray());
}
