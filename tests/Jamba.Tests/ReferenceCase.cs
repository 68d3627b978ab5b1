using System.Text.Json;
using Jamba.Checkpoints;
using Jamba.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace Jamba.Tests;

/// <summary>One reference fixture folder (see Fixtures/REFERENCE-README.md): config, weights, inputs and expected outputs.</summary>
internal sealed class ReferenceCase : IDisposable
{
    public string Dir { get; }
    public JambaConfig Config { get; }
    public Dictionary<string, Tensor> Weights { get; }
    public Dictionary<string, Tensor> Expected { get; }
    public Tensor InputIds { get; }
    public Tensor AttentionMask { get; }

    public ReferenceCase(string name)
    {
        Dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", name);
        Config = JambaConfig.Load(Path.Combine(Dir, "config.json"));
        Weights = SafeTensors.Load(Path.Combine(Dir, "model.safetensors"));
        Expected = SafeTensors.Load(Path.Combine(Dir, "expected.safetensors"));
        var inputs = JsonDocument.Parse(File.ReadAllText(Path.Combine(Dir, "inputs.json"))).RootElement;
        InputIds = Matrix(inputs.GetProperty("input_ids"));
        AttentionMask = Matrix(inputs.GetProperty("attention_mask"));
    }

    public static string FixturePath(params string[] parts) => Path.Combine(new[] { AppContext.BaseDirectory, "Fixtures" }.Concat(parts).ToArray());

    public JambaForCausalLM CausalLM()
    {
        var model = new JambaForCausalLM(Config);
        CheckpointFolder.LoadInto(model, Weights);
        model.eval();
        return model;
    }

    public JambaForSequenceClassification Classifier()
    {
        var config = Config.Clone();
        config.Architectures = new() { "JambaForSequenceClassification" };
        config.NumLabels = 3;
        var model = new JambaForSequenceClassification(config);
        var weights = new Dictionary<string, Tensor>(Weights.Where(p => p.Key.StartsWith("model.")));
        foreach (var (k, v) in SafeTensors.Load(Path.Combine(Dir, "cls_head.safetensors"))) weights[k] = v;
        CheckpointFolder.LoadInto(model, weights);
        model.eval();
        return model;
    }

    /// <summary>‖a−e‖/‖e‖ over the rows (or positions) where <paramref name="keep"/> is true (broadcast), in float64.</summary>
    public static double RelativeError(Tensor actual, Tensor expected, Tensor? keep = null)
    {
        using var scope = NewDisposeScope();
        var a = actual.to_type(ScalarType.Float64);
        var e = expected.to_type(ScalarType.Float64);
        if (keep is not null) { a = a * keep; e = e * keep; }
        return (a - e).norm().item<double>() / e.norm().item<double>();
    }

    public static double MaxAbsError(Tensor actual, Tensor expected, Tensor? keep = null)
    {
        using var scope = NewDisposeScope();
        var d = (actual.to_type(ScalarType.Float64) - expected.to_type(ScalarType.Float64)).abs();
        if (keep is not null) d = d * keep;
        return d.max().item<double>();
    }

    private static Tensor Matrix(JsonElement rows)
    {
        var data = rows.EnumerateArray().Select(r => r.EnumerateArray().Select(x => x.GetInt64()).ToArray()).ToArray();
        return tensor(data.SelectMany(r => r).ToArray(), new long[] { data.Length, data[0].Length });
    }

    public void Dispose()
    {
        foreach (var t in Weights.Values) t.Dispose();
        foreach (var t in Expected.Values) t.Dispose();
        InputIds.Dispose();
        AttentionMask.Dispose();
    }
}
