// The package smoke test's app: what a user writes after `dotnet add package Jamba.MLNet` and `TorchSharp-cpu`.
//   PackageSmoke fit CHECKPOINT_DIR PIPELINE.zip OUTPUTS.txt   load, tokenize, embed + an ML.NET trainer, generate,
//                                                             ml.Model.SaveJamba; writes the pipeline's outputs
//   PackageSmoke reload PIPELINE.zip OUTPUTS.txt               ml.Model.LoadJamba in this new process; the outputs
//                                                             must equal the ones the first process wrote
//   PackageSmoke nobackend CHECKPOINT_DIR                      built without TorchSharp-cpu: JambaModel.Load must
//                                                             fail with the one-line message naming the package
// Exit code 0 on success, 1 on a mismatch; any exception fails the step.
using System.Globalization;
using Jamba;
using Jamba.Inference;
using Jamba.MLNet;
using Microsoft.ML;
using Microsoft.ML.Data;

var rows = new[]
{
    new Row { Text = "the cat sat on the mat", Label = "animal" },
    new Row { Text = "a dog ran in the park", Label = "animal" },
    new Row { Text = "the bird sang at dawn", Label = "animal" },
    new Row { Text = "a horse ate the hay", Label = "animal" },
    new Row { Text = "the train left at noon", Label = "travel" },
    new Row { Text = "a plane flew over the sea", Label = "travel" },
    new Row { Text = "the bus stopped in town", Label = "travel" },
    new Row { Text = "a ship sailed at night", Label = "travel" },
};
var ml = new MLContext(seed: 1);
var data = ml.Data.LoadFromEnumerable(rows);

if (args[0] == "fit")
{
    using var jamba = JambaModel.Load(args[1]);
    var ids = jamba.RequireTokenizer().Encode("the cat", addBos: true);
    Console.WriteLine($"tokenize: 'the cat' -> [{string.Join(",", ids)}]");
    if (ids.Count < 2) return Fail("tokenizer returned too few ids");
    Console.WriteLine($"generate: '{jamba.Generate(new[] { "the cat" }, new GenerationOptions { MaxNewTokens = 6 })[0]}'");

    var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
        .Append(ml.Transforms.Jamba().Tokenize("Tokens", "Text", jamba))
        .Append(ml.Transforms.Jamba().Embed("Features", "Text", jamba))
        .AppendCacheCheckpoint(ml) // SDCA reads its data once per epoch: embed once, not once per epoch
        .Append(ml.MulticlassClassification.Trainers.SdcaMaximumEntropy())
        .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedText", "PredictedLabel"))
        .Append(ml.Transforms.Jamba().Generate("Completion", "Text", jamba, new JambaGenerationOptions { MaxNewTokens = 4 }));
    var model = pipeline.Fit(data);
    var outputs = Outputs(model.Transform(data));
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(data));
    Console.WriteLine($"fit: {rows.Length} rows, training accuracy {metrics.MacroAccuracy:F2}; first row: {outputs[0]}");
    ml.Model.SaveJamba(model, data.Schema, args[2]);
    File.WriteAllLines(args[3], outputs);
    Console.WriteLine($"saved {args[2]} ({new FileInfo(args[2]).Length:N0} bytes)");
    (model as IDisposable)?.Dispose();
    return 0;
}

if (args[0] == "reload")
{
    var model = ml.Model.LoadJamba(args[1], out var inputSchema);
    using var owned = (IDisposable)model;
    var outputs = Outputs(model.Transform(ml.Data.LoadFromEnumerable(rows)));
    var expected = File.ReadAllLines(args[2]);
    if (!outputs.SequenceEqual(expected))
        return Fail($"the reloaded pipeline's outputs differ:\n  saved:    {string.Join("\n            ", expected)}\n  reloaded: {string.Join("\n            ", outputs)}");
    Console.WriteLine($"reload: {inputSchema.Count} input columns, {outputs.Count} rows identical to the first process");
    return 0;
}

if (args[0] == "nobackend")
{
    try
    {
        using var jamba = JambaModel.Load(args[1]);
        return Fail("JambaModel.Load worked in an app without a TorchSharp backend package");
    }
    catch (InvalidOperationException e)
    {
        Console.WriteLine(e.Message);
        return e.Message.Contains("TorchSharp-cpu", StringComparison.Ordinal) && !e.Message.Contains('\n') ? 0 : Fail("the message does not name TorchSharp-cpu in one line");
    }
}

return Fail($"unknown command '{args[0]}'");

// One line per row: token count, the class scores (round-trip format), predicted label, completion.
static List<string> Outputs(IDataView view)
{
    var tokens = view.GetColumn<int[]>("Tokens").ToList();
    var scores = view.GetColumn<float[]>("Score").ToList();
    var predicted = view.GetColumn<string>("PredictedText").ToList();
    var completions = view.GetColumn<string>("Completion").ToList();
    return tokens.Select((t, i) => string.Join("\t", t.Length.ToString(CultureInfo.InvariantCulture),
        string.Join(",", scores[i].Select(s => s.ToString("R", CultureInfo.InvariantCulture))), predicted[i], completions[i])).ToList();
}

static int Fail(string why)
{
    Console.Error.WriteLine($"package smoke: {why}");
    return 1;
}

sealed class Row
{
    public string Text { get; set; } = "";
    public string Label { get; set; } = "";
}
