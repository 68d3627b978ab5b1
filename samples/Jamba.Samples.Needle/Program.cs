// Needle in a haystack at growing context lengths, evaluated with ML.NET's multiclass metrics.
//
//   dotnet run -c Release --project samples/Jamba.Samples.Needle -- [--quick] [--steps N] [--batch B] [--train-tokens T]
//                                                                  [--variants a,b] [--out DIR] [--threads T]
//
// Three models of equal active parameters (hybrid 1:7, pure attention, pure Mamba; no positional embedding in any)
// are trained from scratch to retrieve a needle (a key and its value hidden at a random depth in random filler)
// from 128-token sequences, then asked at 128 … 2048 tokens. The needle's value is one of 16 classes: the model's
// probabilities over the 16 value tokens at the answer position are a K-class score vector, so
// ml.MulticlassClassification.Evaluate reports micro/macro accuracy and log-loss for each model and context.
using System.Globalization;
using Jamba.Lab.Experiments;
using Jamba.Lab.Experiments.Ablation;
using Jamba.Lab.Experiments.Needle;
using Jamba.Lab.Plotting;
using Microsoft.ML;
using Microsoft.ML.Data;

var inv = CultureInfo.InvariantCulture;
bool quick = args.Contains("--quick");
string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
int steps = int.Parse(Option("--steps", quick ? "60" : "400"), inv);
string outDir = Option("--out", "needle");
TorchSharp.torch.set_num_threads(int.Parse(Option("--threads", "1"), inv));
int[] defaultContexts = quick ? new[] { 128, 512 } : new[] { 128, 256, 512, 1024, 2048 };
int queries = quick ? 32 : 128;
int TrainLength = int.Parse(Option("--train-tokens", "128"), inv);
int batch = int.Parse(Option("--batch", "16"), inv);
string[] only = Option("--variants", "hybrid-1:7,pure-attention,pure-mamba").Split(',');
int[] contexts = defaultContexts.Prepend(TrainLength).Distinct().Order().ToArray();

var clock = System.Diagnostics.Stopwatch.StartNew();
Console.WriteLine($"needle in a haystack{(quick ? " (QUICK)" : "")} — {MachineInfo.Describe()}");
var train = new NeedleTask(TrainLength);
var variants = AblationVariant.Catalogue(train.VocabSize).Where(v => only.Contains(v.Name)).ToList();
var options = new AblationOptions { Steps = steps, BatchSize = batch, EvalSequences = 64, EvalPoints = 1 };
Console.WriteLine($"training at {TrainLength} tokens: {steps} updates × {batch} sequences; {queries} queries per context; {train.Values} classes");

var ml = new MLContext(seed: 1);
var results = new List<(string Variant, int Context, MulticlassClassificationMetrics Metrics)>();
foreach (var variant in variants)
{
    var (run, model) = AblationTrainer.Train(variant, train, seed: 0, options);
    using (model)
    {
        Console.Error.WriteLine(string.Create(inv, $"{variant.Name}: trained in {run.Seconds:F0} s, accuracy at {TrainLength} tokens {run.FinalAccuracy:P1}"));
        foreach (int context in contexts)
        {
            var predictions = NeedleEvaluation.Predict(model.CausalLM!, new NeedleTask(context), queries);
            // ML.NET keys are 1-based inside (0 means missing), but LoadFromEnumerable stores a uint v of a key-typed
            // column as key v + 1 (and v ≥ the key count as missing), so class c goes in as c, not c + 1.
            var rows = predictions.Select(p => new NeedleRow { Label = (uint)p.TrueClass, PredictedLabel = (uint)p.PredictedClass, Score = p.Scores });
            var view = ml.Data.LoadFromEnumerable(rows, SchemaFor(train.Values));
            var metrics = ml.MulticlassClassification.Evaluate(view, labelColumnName: "Label", scoreColumnName: "Score", predictedLabelColumnName: "PredictedLabel");
            results.Add((variant.Name, context, metrics));
            // The evaluator's accuracy must be the one counted here: a mismatch means rows were mis-keyed or dropped.
            double own = predictions.Count(p => p.PredictedClass == p.TrueClass) / (double)predictions.Count;
            if (Math.Abs(own - metrics.MicroAccuracy) > 1e-9)
                throw new InvalidOperationException(string.Create(inv, $"ML.NET scored {metrics.MicroAccuracy:P2} where the predictions give {own:P2}"));
            Console.Error.WriteLine(string.Create(inv, $"  {context,5} tokens: micro-accuracy {metrics.MicroAccuracy:P1}, log-loss {metrics.LogLoss:F3}"));
        }
    }
}

Console.WriteLine();
Console.WriteLine($"| model | context | micro-accuracy | macro-accuracy | log-loss | queries |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|");
foreach (var (variant, context, m) in results)
    Console.WriteLine(string.Create(inv, $"| {variant} | {context} | {m.MicroAccuracy * 100:F1}% | {m.MacroAccuracy * 100:F1}% | {m.LogLoss:F3} | {queries} |"));
Console.WriteLine(string.Create(inv, $"\nchance: {100.0 / train.Values:F1}%; trained at {TrainLength} tokens; wall time {clock.Elapsed.TotalMinutes:F1} min"));

Directory.CreateDirectory(outDir);
var plot = new LinePlot { Title = $"Needle retrieval vs context (trained at {TrainLength} tokens{(quick ? ", QUICK" : "")})", XLabel = "context (tokens)", YLabel = "micro-accuracy (%)" };
foreach (var group in results.GroupBy(r => r.Variant))
    plot.Add(group.Key, group.Select(r => (double)r.Context).ToArray(), group.Select(r => r.Metrics.MicroAccuracy * 100).ToArray(), markers: true);
plot.SavePng(Path.Combine(outDir, "needle-accuracy.png"));
Console.WriteLine($"wrote {Path.Combine(outDir, "needle-accuracy.png")}");

// The schema of the evaluated view: key-typed label and prediction over K classes, a K-wide score vector.
static SchemaDefinition SchemaFor(int classes)
{
    var schema = SchemaDefinition.Create(typeof(NeedleRow));
    schema["Label"].ColumnType = new KeyDataViewType(typeof(uint), classes);
    schema["PredictedLabel"].ColumnType = new KeyDataViewType(typeof(uint), classes);
    schema["Score"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, classes);
    return schema;
}

/// <summary>One needle query as ML.NET sees it.</summary>
internal sealed class NeedleRow
{
    public uint Label { get; set; }
    public uint PredictedLabel { get; set; }
    public float[] Score { get; set; } = Array.Empty<float>();
}
